/*
 * src/abi/bgw_entry.cpp
 *
 * Entry points of pg_upkeep's background workers, resolved by name by the
 * postmaster (bgw_function_name).  The SQL functions, wake_worker()
 * among them, are in sql_functions.cpp.
 */
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "storage/ipc.h"
}

#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/worker.hpp"

#pragma GCC visibility push(default)
extern "C" {

/* [[noreturn]], not pg_attribute_noreturn(): 18 removed that macro (compat.hpp). */
[[noreturn]] PGDLLEXPORT void upkeep_launcher_main(Datum main_arg);
[[noreturn]] PGDLLEXPORT void upkeep_worker_main(Datum main_arg);

void
upkeep_launcher_main(Datum main_arg) {
	upkeep::bgw::LauncherMain(main_arg);
	proc_exit(0);
}

void
upkeep_worker_main(Datum main_arg) {
	upkeep::bgw::WorkerMain(main_arg);
	proc_exit(0);
}

} // extern "C"
#pragma GCC visibility pop
