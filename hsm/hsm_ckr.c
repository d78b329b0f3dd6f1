/* PKCS#11 return codes: names for logs, and translation to c2s_err. CKR_* never leaves hsm/. */
#include <string.h>

#include "hsm_int.h"

struct ckr_row {
	CK_RV rv;
	const char *name;
};

#define R(x) {x, #x},
static const struct ckr_row ckr_table[] =
    {R(CKR_OK) R(CKR_CANCEL) R(CKR_HOST_MEMORY) R(CKR_SLOT_ID_INVALID) R(CKR_GENERAL_ERROR) R(
        CKR_FUNCTION_FAILED) R(CKR_ARGUMENTS_BAD) R(CKR_NO_EVENT) R(CKR_NEED_TO_CREATE_THREADS)
         R(CKR_CANT_LOCK) R(CKR_ATTRIBUTE_READ_ONLY) R(CKR_ATTRIBUTE_SENSITIVE) R(
             CKR_ATTRIBUTE_TYPE_INVALID) R(CKR_ATTRIBUTE_VALUE_INVALID) R(CKR_ACTION_PROHIBITED)
             R(CKR_DATA_INVALID) R(CKR_DATA_LEN_RANGE) R(CKR_DEVICE_ERROR) R(CKR_DEVICE_MEMORY) R(
                 CKR_DEVICE_REMOVED) R(CKR_ENCRYPTED_DATA_INVALID) R(CKR_ENCRYPTED_DATA_LEN_RANGE)
                 R(CKR_FUNCTION_CANCELED) R(CKR_FUNCTION_NOT_PARALLEL) R(
                     CKR_FUNCTION_NOT_SUPPORTED) R(CKR_KEY_HANDLE_INVALID) R(CKR_KEY_SIZE_RANGE)
                     R(CKR_KEY_TYPE_INCONSISTENT) R(CKR_KEY_NOT_NEEDED) R(CKR_KEY_CHANGED) R(
                         CKR_KEY_NEEDED) R(CKR_KEY_INDIGESTIBLE) R(CKR_KEY_FUNCTION_NOT_PERMITTED)
                         R(CKR_KEY_NOT_WRAPPABLE) R(CKR_KEY_UNEXTRACTABLE) R(
                             CKR_MECHANISM_INVALID) R(CKR_MECHANISM_PARAM_INVALID)
                             R(CKR_OBJECT_HANDLE_INVALID) R(CKR_OPERATION_ACTIVE) R(
                                 CKR_OPERATION_NOT_INITIALIZED) R(CKR_PIN_INCORRECT) R(CKR_PIN_INVALID)
                                 R(CKR_PIN_LEN_RANGE) R(CKR_PIN_EXPIRED) R(CKR_PIN_LOCKED) R(
                                     CKR_SESSION_CLOSED) R(CKR_SESSION_COUNT) R(CKR_SESSION_HANDLE_INVALID)
                                     R(CKR_SESSION_PARALLEL_NOT_SUPPORTED) R(CKR_SESSION_READ_ONLY) R(
                                         CKR_SESSION_EXISTS) R(CKR_SESSION_READ_ONLY_EXISTS) R(CKR_SESSION_READ_WRITE_SO_EXISTS)
                                         R(CKR_SIGNATURE_INVALID) R(CKR_SIGNATURE_LEN_RANGE) R(
                                             CKR_TEMPLATE_INCOMPLETE) R(CKR_TEMPLATE_INCONSISTENT)
                                             R(CKR_TOKEN_NOT_PRESENT) R(CKR_TOKEN_NOT_RECOGNIZED) R(
                                                 CKR_TOKEN_WRITE_PROTECTED) R(CKR_UNWRAPPING_KEY_SIZE_RANGE) R(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT)
                                                 R(CKR_USER_ALREADY_LOGGED_IN) R(CKR_USER_NOT_LOGGED_IN) R(
                                                     CKR_USER_PIN_NOT_INITIALIZED) R(CKR_USER_TYPE_INVALID)
                                                     R(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) R(
                                                         CKR_USER_TOO_MANY_TYPES) R(CKR_WRAPPED_KEY_INVALID)
                                                         R(CKR_WRAPPED_KEY_LEN_RANGE) R(
                                                             CKR_WRAPPING_KEY_HANDLE_INVALID) R(CKR_WRAPPING_KEY_SIZE_RANGE)
                                                             R(CKR_WRAPPING_KEY_TYPE_INCONSISTENT) R(
                                                                 CKR_RANDOM_SEED_NOT_SUPPORTED) R(CKR_RANDOM_NO_RNG)
                                                                 R(CKR_DOMAIN_PARAMS_INVALID) R(CKR_CURVE_NOT_SUPPORTED) R(
                                                                     CKR_BUFFER_TOO_SMALL) R(CKR_SAVED_STATE_INVALID)
                                                                     R(CKR_INFORMATION_SENSITIVE) R(
                                                                         CKR_STATE_UNSAVEABLE) R(CKR_CRYPTOKI_NOT_INITIALIZED)
                                                                         R(CKR_CRYPTOKI_ALREADY_INITIALIZED)
                                                                             R(CKR_MUTEX_BAD) R(
                                                                                 CKR_MUTEX_NOT_LOCKED) R(CKR_NEW_PIN_MODE)
                                                                                 R(
                                                                                     CKR_NEXT_OTP) R(CKR_EXCEEDED_MAX_ITERATIONS)
                                                                                     R(CKR_FIPS_SELF_TEST_FAILED) R(
                                                                                         CKR_LIBRARY_LOAD_FAILED)
                                                                                         R(CKR_PIN_TOO_WEAK)
                                                                                             R(CKR_PUBLIC_KEY_INVALID)
                                                                                                 R(CKR_FUNCTION_REJECTED)};
#undef R

const char *hsm_ckr_name(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(ckr_table) / sizeof(ckr_table[0]); i++)
		if (ckr_table[i].rv == rv)
			return ckr_table[i].name;
	return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "CKR_unknown";
}

int hsm_ckr_parse(const char *name, CK_RV *rv)
{
	for (size_t i = 0; i < sizeof(ckr_table) / sizeof(ckr_table[0]); i++) {
		if (strcmp(ckr_table[i].name, name) == 0) {
			*rv = ckr_table[i].rv;
			return 1;
		}
	}
	return 0;
}

c2s_err hsm_rv_err(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
		return C2S_OK;
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return C2S_ERR_NOMEM;
	case CKR_DEVICE_REMOVED:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
		return C2S_ERR_HSM_REMOVED;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SLOT_ID_INVALID:
		return C2S_ERR_HSM_NO_TOKEN;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return C2S_ERR_HSM_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
		return C2S_ERR_HSM_PIN_LOCKED;
	case CKR_PIN_EXPIRED: /* not locked: C_SetPIN with the old PIN still works */
		return C2S_ERR_HSM_PIN_EXPIRED;
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return C2S_ERR_HSM_NOT_LOGGED_IN;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_KEY_SIZE_RANGE:
	case CKR_CURVE_NOT_SUPPORTED:
		return C2S_ERR_HSM_MECHANISM;
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
		return C2S_ERR_HSM_NO_KEY;
	case CKR_ARGUMENTS_BAD:
	case CKR_DATA_LEN_RANGE:
	case CKR_DATA_INVALID:
	case CKR_TEMPLATE_INCONSISTENT:
	case CKR_TEMPLATE_INCOMPLETE:
	case CKR_ATTRIBUTE_VALUE_INVALID:
		return C2S_ERR_ARG;
	default:
		return C2S_ERR_HSM;
	}
}

int hsm_rv_recoverable(const struct hsm *h, CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED: /* a card read while it was still being pushed in */
	case CKR_DEVICE_ERROR:
	case CKR_SLOT_ID_INVALID:
		return 1;
	case CKR_GENERAL_ERROR:
		return h && h->removable;
	default:
		return 0;
	}
}
