/*
 * pg_compat.h - the few PostgreSQL APIs that differ between the majors the
 * extension builds against (15 to 18), each behind one PG_VERSION_NUM test.
 * Include it after postgres.h (and after the header of the API it covers).
 */
#ifndef OCPB_PG_COMPAT_H
#define OCPB_PG_COMPAT_H

#include "postgres.h"

/* The release, from ocp_backup.control; the Makefile passes it. */
#ifndef OCPB_VERSION
#error "OCPB_VERSION is not defined: build with the Makefile, which reads it from ocp_backup.control"
#endif

/* 16 replaced the per-object-kind ACL checks by object_aclcheck(). */
#if PG_VERSION_NUM >= 160000
#define pg_foreign_server_aclcheck(server_id, role_id, mode) \
	object_aclcheck(ForeignServerRelationId, (server_id), (role_id), (mode))
#define pg_proc_aclcheck(proc_id, role_id, mode) \
	object_aclcheck(ProcedureRelationId, (proc_id), (role_id), (mode))
#endif

/*
 * 16: JSON semantic-action callbacks return a JsonParseErrorType.  Declare
 * them OCPB_JSON_ACTION and end them with "return OCPB_JSON_ACTION_DONE;".
 */
#if PG_VERSION_NUM >= 160000
#define OCPB_JSON_ACTION JsonParseErrorType
#define OCPB_JSON_ACTION_DONE JSON_SUCCESS
#else
#define OCPB_JSON_ACTION void
#define OCPB_JSON_ACTION_DONE
#endif

/*
 * 17: makeJsonLexContextCstringLen() takes the context to fill first (NULL:
 * allocate one), and freeJsonLexContext() frees what it allocated.  Before,
 * the context lives until its memory context goes.
 */
#if PG_VERSION_NUM >= 170000
#define ocpb_json_lex_cstring(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), (encoding), (need_escapes))
#define ocpb_json_lex_free(lex) freeJsonLexContext(lex)
#else
#define ocpb_json_lex_cstring(json, len, encoding, need_escapes) \
	makeJsonLexContextCstringLen(unconstify(char *, (json)), (int) (len), \
								 (encoding), (need_escapes))
#define ocpb_json_lex_free(lex) ((void) (lex))
#endif

/*
 * 17: CreateWaitEventSet() takes the resource owner that frees the set
 * (NULL: none, it lives until freed) instead of a memory context; both
 * forms here give a set that lives until FreeWaitEventSet().
 */
#if PG_VERSION_NUM >= 170000
#define ocpb_create_wait_event_set(nevents) CreateWaitEventSet(NULL, (nevents))
#else
#define ocpb_create_wait_event_set(nevents) CreateWaitEventSet(TopMemoryContext, (nevents))
#endif

/*
 * 18: RelationGetPrimaryKeyIndex() takes whether a deferrable key will do
 * (no: reconcile.c's look for rows being written wants the one a unique
 * check enforces at once).
 */
#if PG_VERSION_NUM >= 180000
#define ocpb_primary_key_index(relation) RelationGetPrimaryKeyIndex((relation), false)
#else
#define ocpb_primary_key_index(relation) RelationGetPrimaryKeyIndex(relation)
#endif

/* 18 replaced the trailing pg_attribute_noreturn() by a leading pg_noreturn. */
#if PG_VERSION_NUM < 180000 && !defined(pg_noreturn)
#define pg_noreturn pg_attribute_noreturn()
#endif

#endif
