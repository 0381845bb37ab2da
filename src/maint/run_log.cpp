/*
 * src/maint/run_log.cpp
 *
 * See upkeep/maint/run_log.hpp.
 */
#include "upkeep/maint/run_log.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

int64_t
NewRunId() {
	return pg::AsExtensionOwner(
	    [] { return *pg::SpiQueryInts("SELECT pg_catalog.nextval('upkeep.run_id_seq')", {}, false).at(0).at(0); });
}

std::string
RunByLabel(bool worker) {
	if (worker)
		return "worker";
	/* NULLIF(application_name, '') spelled out: NULLIF's = would be looked up through the search_path */
	pg::SpiResult r = pg::SpiExec("SELECT pg_catalog.session_user()::pg_catalog.text OPERATOR(pg_catalog.||) "
	                              "COALESCE(' via ' OPERATOR(pg_catalog.||) CASE WHEN "
	                              "pg_catalog.current_setting('application_name') OPERATOR(pg_catalog.=) '' THEN NULL "
	                              "ELSE pg_catalog.current_setting('application_name') END, '')",
	                              {}, pg::SpiMode::ReadOnly);
	return r.At(0, 0);
}

int64_t
LogStart(int64_t run_id, Oid relid, const std::string &table_name, const std::string &action,
         const std::string &run_by) {
	return pg::AsExtensionOwner([&] {
		return *pg::SpiQueryInts("INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, status, "
		                         "run_by, pid) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), 'running', $5, "
		                         "pg_catalog.pg_backend_pid()) RETURNING id",
		                         {pg::SpiValue::Int8(run_id), pg::SpiValue::Oid_(relid), pg::SpiValue::Text(table_name),
		                          pg::SpiValue::Text(action), pg::SpiValue::Text(run_by)},
		                         false)
		            .at(0)
		            .at(0);
	});
}

void
LogProgress(int64_t log_id, int64_t rows, int batches) {
	pg::AsExtensionOwner([&] {
		pg::SpiExec("UPDATE upkeep.run_log SET rows = $2, batches = $3 WHERE id OPERATOR(pg_catalog.=) $1",
		            {pg::SpiValue::Int8(log_id), pg::SpiValue::Int8(rows), pg::SpiValue::Int4(batches)},
		            pg::SpiMode::Write);
	});
}

void
LogFinish(int64_t log_id, core::Status status, int64_t rows, int batches, const std::string &message,
          const std::string &action, const std::string &table_name) {
	pg::AsExtensionOwner([&] {
		pg::SpiExec("UPDATE upkeep.run_log SET status = $2, rows = $3, batches = $4, message = $5, action = $6, "
		            "table_name = $7, finished_at = pg_catalog.clock_timestamp() WHERE id OPERATOR(pg_catalog.=) $1",
		            {pg::SpiValue::Int8(log_id), pg::SpiValue::Text(core::StatusText(status)), pg::SpiValue::Int8(rows),
		             pg::SpiValue::Int4(batches),
		             message.empty() ? pg::SpiValue::Null(TEXTOID) : pg::SpiValue::Text(message),
		             pg::SpiValue::Text(action), pg::SpiValue::Text(table_name)},
		            pg::SpiMode::Write);
	});
}

void
LogDrop(int64_t log_id) {
	pg::AsExtensionOwner([&] {
		pg::SpiExec("DELETE FROM upkeep.run_log WHERE id OPERATOR(pg_catalog.=) $1", {pg::SpiValue::Int8(log_id)},
		            pg::SpiMode::Write);
	});
}

void
LogOutcome(int64_t run_id, Oid relid, const std::string &table_name, const std::string &action, core::Status status,
           const std::string &message, const std::string &run_by, int64_t rows) {
	pg::AsExtensionOwner([&] {
		pg::SpiExec("INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, finished_at, status, "
		            "message, run_by, pid, rows) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), "
		            "pg_catalog.clock_timestamp(), $5, $6, $7, pg_catalog.pg_backend_pid(), $8)",
		            {pg::SpiValue::Int8(run_id), pg::SpiValue::Oid_(relid), pg::SpiValue::Text(table_name),
		             pg::SpiValue::Text(action), pg::SpiValue::Text(core::StatusText(status)),
		             message.empty() ? pg::SpiValue::Null(TEXTOID) : pg::SpiValue::Text(message),
		             pg::SpiValue::Text(run_by), pg::SpiValue::Int8(rows)},
		            pg::SpiMode::Write);
	});
}

int64_t
MarkInterruptedRuns() {
	return pg::AsExtensionOwner([] {
		return static_cast<int64_t>(
		    pg::SpiExec(
		        "UPDATE upkeep.run_log l SET status = 'failed', finished_at = pg_catalog.clock_timestamp(), "
		        "message = 'interrupted: the run was cancelled, timed out, terminated or the server crashed' "
		        "WHERE l.status OPERATOR(pg_catalog.=) 'running' AND (l.pid OPERATOR(pg_catalog.=) "
		        "pg_catalog.pg_backend_pid() OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity(l.pid) a "
		        "WHERE a.backend_start OPERATOR(pg_catalog.<=) l.started_at))",
		        {}, pg::SpiMode::Write)
		        .processed);
	});
}

int64_t
TrimRunLog() {
	const int64_t minutes = pg::g_run_log_retain_min;
	return pg::AsExtensionOwner([&] {
		return static_cast<int64_t>(
		    pg::SpiExec("DELETE FROM upkeep.run_log WHERE status OPERATOR(pg_catalog.<>) 'running' AND finished_at "
		                "OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(mins "
		                "=> $1::pg_catalog.int4))",
		                {pg::SpiValue::Int8(minutes)}, pg::SpiMode::Write)
		        .processed);
	});
}

} // namespace upkeep::maint
