/*
 * upkeep/pg/error_bridge.hpp
 *
 * The one seam between C++ exceptions and PostgreSQL's longjmp-based errors.
 *
 *   PgCall(fn)          PostgreSQL -> C++.  Runs `fn` (which calls PostgreSQL
 *                       functions that may ereport) under its own sigsetjmp.  An
 *                       ERROR lands here, is copied out of ErrorContext,
 *                       flushed, and thrown as a PgError carrying SQLSTATE,
 *                       message, detail and hint.  C++ frames above PgCall then
 *                       unwind normally, destructors and all.
 *
 *   CppBoundary(w, fn)  C++ -> PostgreSQL.  Body of every extern "C" entry point.
 *                       Any exception is caught, its text copied into a stack
 *                       buffer, the catch block is left, and only then is
 *                       ereport(ERROR) raised, from a frame that owns nothing.
 *
 * Rules (a longjmp skips the destructors of the C++ frames it crosses, and
 * an error leaves the transaction it happened in unusable):
 *   - `fn` given to PgCall must itself be a C-style frame: the longjmp lands in
 *     PgCall and skips `fn`'s locals.
 *   - A PgError means the current (sub)transaction is unusable: rethrow it to
 *     CppBoundary, or roll back the subtransaction it happened in
 *     (pg::Subtransaction does that), never keep using the database.
 */
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <string>
#include <utility>

extern "C" {
#include "postgres.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace upkeep::pg {

/* C++ image of a PostgreSQL ERROR.  Fixed buffers: constructing it cannot fail. */
class PgError final : public std::exception {
  public:
	PgError(int sqlerrcode, const char *message, const char *detail = nullptr, const char *hint = nullptr,
	        const char *filename = nullptr, int lineno = 0, const char *funcname = nullptr) noexcept
	    : sqlerrcode_(sqlerrcode), filename_(filename), lineno_(lineno), funcname_(funcname) {
		Copy(message_, sizeof(message_), message ? message : "(no message)");
		Copy(detail_, sizeof(detail_), detail);
		Copy(hint_, sizeof(hint_), hint);
	}
	const char *
	what() const noexcept override {
		return message_;
	}
	int
	SqlErrCode() const noexcept {
		return sqlerrcode_;
	}
	const char *
	Detail() const noexcept {
		return detail_[0] ? detail_ : nullptr;
	}
	const char *
	Hint() const noexcept {
		return hint_[0] ? hint_ : nullptr;
	}
	/* Where PostgreSQL raised it (static strings from __FILE__/__func__), or null for our own errors. */
	const char *
	Filename() const noexcept {
		return filename_;
	}
	int
	Lineno() const noexcept {
		return lineno_;
	}
	const char *
	Funcname() const noexcept {
		return funcname_;
	}

  private:
	static void
	Copy(char *dst, size_t size, const char *src) noexcept {
		if (src == nullptr)
			dst[0] = '\0';
		else
			strlcpy(dst, src, size);
	}
	int sqlerrcode_;
	const char *filename_;
	int lineno_;
	const char *funcname_;
	char message_[1024];
	char detail_[1024];
	char hint_[512];
};

/* The five-character SQLSTATE of an error code ("23503"), in a static buffer per call site use. */
inline const char *
SqlStateText(int sqlerrcode) noexcept {
	return unpack_sql_state(sqlerrcode);
}

/*
 * A text argument of Throw: a string literal, a std::string built in C++
 * (read before Throw returns: PgError copies it), or nullptr / an empty
 * string for none.
 */
class ErrorText {
  public:
	ErrorText(std::nullptr_t) noexcept : text_(nullptr) {}
	ErrorText(const char *text) noexcept : text_(text) {}
	ErrorText(const std::string &text) noexcept : text_(text.empty() ? nullptr : text.c_str()) {}
	const char *
	Get() const noexcept {
		return text_;
	}

  private:
	const char *text_;
};

/* Raise a PgError from C++ code (the C++ way of saying ereport(ERROR)). */
[[noreturn]] inline void
Throw(int sqlerrcode, ErrorText message, ErrorText detail = nullptr, ErrorText hint = nullptr) {
	throw PgError(sqlerrcode, message.Get(), detail.Get(), hint.Get());
}

namespace detail {
/* Restores PostgreSQL's error-stack globals on scope exit, by return or by the longjmp landing. */
struct ErrorStackGuard {
	ErrorStackGuard() noexcept : saved_stack(PG_exception_stack), saved_context(error_context_stack) {}
	~ErrorStackGuard() {
		PG_exception_stack = saved_stack;
		error_context_stack = saved_context;
	}
	ErrorStackGuard(const ErrorStackGuard &) = delete;
	ErrorStackGuard &operator=(const ErrorStackGuard &) = delete;
	sigjmp_buf *saved_stack;
	ErrorContextCallback *saved_context;
};

/* Copy the pending ErrorData into a PgError and clear PostgreSQL's error state. */
PgError TakePendingError(MemoryContext caller_cxt) noexcept;
} // namespace detail

template <typename Fn>
auto
PgCall(Fn &&fn) -> decltype(fn()) {
	MemoryContext caller_cxt = CurrentMemoryContext;
	{
		detail::ErrorStackGuard guard;
		sigjmp_buf local_jmp;
		if (sigsetjmp(local_jmp, 0) == 0) {
			PG_exception_stack = &local_jmp;
			return fn();
		}
	}
	throw detail::TakePendingError(caller_cxt);
}

namespace detail {
/* Raise the collected error.  Called from a frame that owns no C++ objects. */
struct RaiseSite {
	const char *filename;
	int lineno;
	const char *funcname;
};
[[noreturn]] void RaiseFromBoundary(const char *where, int sqlerrcode, const char *message, const char *detail,
                                    const char *hint, bool prefix, RaiseSite site);
} // namespace detail

/*
 * Runs `fn`; any C++ exception becomes ereport(ERROR) once every C++ frame of
 * `fn` is gone.  PgErrors keep their SQLSTATE and text unchanged (they were
 * PostgreSQL errors, or errors we raised deliberately); any other exception
 * becomes XX000 prefixed with `where`.
 */
template <typename Fn>
auto
CppBoundary(const char *where, Fn &&fn) -> decltype(fn()) {
	char message[1024];
	char detail_buf[1024];
	char hint_buf[512];
	int sqlerrcode = ERRCODE_INTERNAL_ERROR;
	bool prefix = true;
	detail::RaiseSite site{nullptr, 0, nullptr};
	detail_buf[0] = hint_buf[0] = '\0';
	sigjmp_buf *saved_stack = PG_exception_stack;
	ErrorContextCallback *saved_context = error_context_stack;
	try {
		return fn();
	} catch (const PgError &e) {
		sqlerrcode = e.SqlErrCode();
		prefix = false;
		site = detail::RaiseSite{e.Filename(), e.Lineno(), e.Funcname()};
		strlcpy(message, e.what(), sizeof(message));
		if (e.Detail())
			strlcpy(detail_buf, e.Detail(), sizeof(detail_buf));
		if (e.Hint())
			strlcpy(hint_buf, e.Hint(), sizeof(hint_buf));
	} catch (const std::bad_alloc &) {
		sqlerrcode = ERRCODE_OUT_OF_MEMORY;
		strlcpy(message, "out of memory", sizeof(message));
	} catch (const std::exception &e) {
		strlcpy(message, e.what(), sizeof(message));
	} catch (...) {
		strlcpy(message, "unknown C++ exception", sizeof(message));
	}
	/* A C++ exception may have left a PG_TRY without PG_END_TRY (pg_duckdb #737). */
	PG_exception_stack = saved_stack;
	error_context_stack = saved_context;
	detail::RaiseFromBoundary(where, sqlerrcode, message, detail_buf[0] ? detail_buf : nullptr,
	                          hint_buf[0] ? hint_buf : nullptr, prefix, site);
}

} // namespace upkeep::pg
