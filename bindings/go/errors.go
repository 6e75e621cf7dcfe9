package kiln

/*
#include <kiln.h>
*/
import "C"

import (
	"errors"
	"fmt"
)

// Code is a KILN_E* status code of kiln.h; codes are never renumbered.
type Code int

// The KILN_E* codes.
const (
	CodeInvalid      Code = C.KILN_EINVAL
	CodeNotFound     Code = C.KILN_ENOTFOUND
	CodeUnauthorized Code = C.KILN_EUNAUTHORIZED
	CodeForbidden    Code = C.KILN_EFORBIDDEN
	CodeConflict     Code = C.KILN_ECONFLICT
	CodeUnsupported  Code = C.KILN_EUNSUPPORTED
	CodeDigest       Code = C.KILN_EDIGEST
	CodeIO           Code = C.KILN_EIO
	CodeNetwork      Code = C.KILN_ENETWORK
	CodeProtocol     Code = C.KILN_EPROTOCOL
	CodeCancelled    Code = C.KILN_ECANCELLED
	CodeTimeout      Code = C.KILN_ETIMEOUT
	CodeTooLarge     Code = C.KILN_ETOOLARGE
	CodeServer       Code = C.KILN_ESERVER
	CodeUnavailable  Code = C.KILN_EUNAVAILABLE
	CodeBuild        Code = C.KILN_EBUILD
	CodeOOM          Code = C.KILN_EOOM
	CodeInternal     Code = C.KILN_EINTERNAL
)

var codeNames = map[Code]string{
	CodeInvalid: "invalid_argument", CodeNotFound: "not_found", CodeUnauthorized: "unauthorized",
	CodeForbidden: "forbidden", CodeConflict: "conflict", CodeUnsupported: "unsupported",
	CodeDigest: "digest_mismatch", CodeIO: "io", CodeNetwork: "network", CodeProtocol: "protocol",
	CodeCancelled: "cancelled", CodeTimeout: "timeout", CodeTooLarge: "too_large", CodeServer: "server",
	CodeUnavailable: "unavailable", CodeBuild: "build_failed", CodeOOM: "out_of_memory", CodeInternal: "internal",
}

// String is the code's name as kiln_error_code_name gives it ("not_found").
func (c Code) String() string {
	if name, ok := codeNames[c]; ok {
		return name
	}
	return fmt.Sprintf("unknown(%d)", int(c))
}

// Error is a failed kiln call: a copy of the kiln_error the call returned
// (which is freed before the function returns).
type Error struct {
	Code       Code
	Name       string // "not_found", ...
	Message    string // what went wrong and what to do, naming the bad part
	HTTPStatus int    // status of the response that caused it, 0 if none
	RemoteCode string // registry error code ("MANIFEST_UNKNOWN") or Kubernetes reason; "" if none

	cause error // the context's error when a context ended the call
}

func (e *Error) Error() string { return "kiln: " + e.Name + ": " + e.Message }

// Is makes errors.Is(err, &kiln.Error{Code: kiln.CodeNotFound}) match by
// code, and a call ended by its context match context.Canceled or
// context.DeadlineExceeded, whichever the context reported.
func (e *Error) Is(target error) bool {
	if t, ok := target.(*Error); ok {
		return t.Code == e.Code
	}
	return e.cause != nil && target == e.cause
}

// IsCode reports whether err is (or wraps) a kiln *Error with the code c.
func IsCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}

// takeError turns a status and its kiln_error (freed here) into a Go error.
func takeError(rc C.int, e *C.kiln_error) error {
	if rc == C.KILN_OK {
		C.kiln_error_free(e)
		return nil
	}
	if e == nil { // kiln could not allocate the error object
		return &Error{Code: Code(rc), Name: Code(rc).String(), Message: "no error details (out of memory)"}
	}
	defer C.kiln_error_free(e)
	return &Error{
		Code:       Code(C.kiln_error_code(e)),
		Name:       C.GoString(C.kiln_error_code_name(e)),
		Message:    C.GoString(C.kiln_error_message(e)),
		HTTPStatus: int(C.kiln_error_http_status(e)),
		RemoteCode: C.GoString(C.kiln_error_remote_code(e)),
	}
}
