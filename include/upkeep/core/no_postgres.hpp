/*
 * upkeep/core/no_postgres.hpp
 *
 * Included last by every header of the PostgreSQL-free core.  The core is unit
 * tested without a server, so it must never see postgres.h: if it does, the
 * build stops here.
 */
#pragma once

/*
 * Core translation units define UPKEEP_CORE_TU before their first include;
 * pg-layer files may include core headers after postgres.h, core files may
 * never see it.
 */
#if defined(UPKEEP_CORE_TU) && defined(POSTGRES_H)
static_assert(false, "upkeep::core must not include PostgreSQL headers");
#endif
