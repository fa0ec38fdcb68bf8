//! libpg_query's own error, with the cursor position that the `pg_query` crate drops.
//!
//! The crate links the bundled libpg_query; we declare `pg_query_parse` and its result structs
//! (`pg_query.h`) ourselves, and call it only after `pg_query::parse` failed, to learn where.

use std::ffi::{c_char, c_int, CStr, CString};

#[repr(C)]
struct PgQueryError {
    message: *mut c_char,
    funcname: *mut c_char,
    filename: *mut c_char,
    lineno: c_int,
    cursorpos: c_int,
    context: *mut c_char,
}

#[repr(C)]
struct PgQueryParseResult {
    parse_tree: *mut c_char,
    stderr_buffer: *mut c_char,
    error: *mut PgQueryError,
}

extern "C" {
    fn pg_query_parse(input: *const c_char) -> PgQueryParseResult;
    fn pg_query_free_parse_result(result: PgQueryParseResult);
}

/// The parser's error message and its 1-based character position (0 when it gave none).
pub fn parse_error(sql: &str) -> Option<(String, usize)> {
    let input = CString::new(sql).ok()?;
    // SAFETY: `input` is a valid NUL-terminated string for the duration of the call; the
    // result is read before it is freed, exactly once, by the library's own function.
    unsafe {
        let result = pg_query_parse(input.as_ptr());
        let out = if result.error.is_null() {
            None
        } else {
            let e = &*result.error;
            let message = if e.message.is_null() {
                String::from("syntax error")
            } else {
                CStr::from_ptr(e.message).to_string_lossy().into_owned()
            };
            Some((message, e.cursorpos.max(0) as usize))
        };
        pg_query_free_parse_result(result);
        out
    }
}
