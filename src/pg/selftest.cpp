/*
 * src/pg/selftest.cpp
 *
 * See upkeep/pg/selftest.hpp.
 */
#include <malloc.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/selftest.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"

namespace upkeep::pg {

namespace {

int64_t g_live = 0;

/* Counts its live instances and owns heap memory, like any real C++ object would. */
class Tracked {
  public:
	Tracked() : payload_(new std::vector<char>(4096, 'x')) { ++g_live; }
	~Tracked() { --g_live; }
	Tracked(const Tracked &) = delete;
	Tracked &operator=(const Tracked &) = delete;

  private:
	std::unique_ptr<std::vector<char>> payload_;
};

int64_t
NestedThrow(int depth) {
	Tracked t;
	std::string s(1000, 'y');
	if (depth == 0)
		throw std::runtime_error("nested helper failed at depth 0");
	return NestedThrow(depth - 1) + static_cast<int64_t>(s.size());
}

int64_t
NestedSpiError(int depth) {
	Tracked t;
	std::vector<std::string> held(16, std::string(256, 'z'));
	if (depth == 0) {
		SpiExec("SELECT 1 OPERATOR(pg_catalog./) 0", {}, SpiMode::ReadOnly);
		return 0;
	}
	return NestedSpiError(depth - 1) + static_cast<int64_t>(held.size());
}

void
RaisePgError() {
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("error raised by PostgreSQL inside PgCall"),
	                errdetail("the detail survives the bridge"), errhint("so does the hint")));
}

} // namespace

int64_t
SelftestLiveObjects() {
	return g_live;
}

int64_t
SelftestErrorBridge(const char *mode_c) {
	const std::string mode(mode_c);
	if (mode == "heap_bytes")
		return static_cast<int64_t>(mallinfo2().uordblks);
	Tracked outer;
	if (mode == "ok")
		return 42;
	if (mode == "cpp_nested")
		return NestedThrow(3);
	if (mode == "bad_alloc")
		throw std::bad_alloc();
	if (mode == "pg_error") {
		PgCall([] { RaisePgError(); });
		return 0;
	}
	if (mode == "spi_error") {
		SpiConnect();
		return NestedSpiError(3);
	}
	if (mode == "subtransaction") {
		SpiConnect();
		auto failure = TrySubtransaction([] { NestedSpiError(2); });
		if (!failure || failure->SqlErrCode() != ERRCODE_DIVISION_BY_ZERO)
			throw std::runtime_error("subtransaction did not report the division by zero");
		/* the session is usable after the rollback */
		int64_t v = SpiExec("SELECT 7", {}, SpiMode::ReadOnly).Int(0, 0);
		SpiFinish();
		return v;
	}
	std::string msg = "unknown self-test mode \"" + mode + "\"";
	Throw(ERRCODE_INVALID_PARAMETER_VALUE, msg);
}

} // namespace upkeep::pg
