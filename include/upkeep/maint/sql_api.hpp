/*
 * upkeep/maint/sql_api.hpp
 *
 * The C++ side of each SQL entry point (the C shim in src/abi only unpacks
 * arguments and packs results).  Each one owns its SPI connection.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/policy.hpp"

namespace upkeep::maint {

/* 25006 with a clear message on a hot standby (`what` names the function). */
void RequirePrimary(const char *what);

/* cleanup_old_data(): everything in the caller's transaction. */
std::vector<Outcome> CleanupOldData(bool dry_run, Oid only);

/* CALL run_maintenance(): `nonatomic` when called outside a transaction block (commits allowed). */
void RunMaintenanceProcedure(bool dry_run, Oid only, bool nonatomic);

/* set_policy() / drop_policy(). */
void SetPolicyEntry(const PolicyArgs &args);
bool DropPolicyEntry(Oid relid);

/* archive_table(): NULL arguments fall back to the table's policy where it has one. */
int64_t ArchiveTableEntry(Oid source, std::optional<Oid> archive, std::optional<std::string> older_than,
                          std::optional<std::string> time_column, int batch_size);

} // namespace upkeep::maint
