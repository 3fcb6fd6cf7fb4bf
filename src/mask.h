/*
 * mask.h - a storage object with its secrets masked, for the journal.
 */
#ifndef OCPB_MASK_H
#define OCPB_MASK_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "scrub.h"

/*
 * The storage object with the values of secret-looking keys and the
 * credentials of URLs replaced by a marker, or NULL when it holds none;
 * each value masked is added to secrets.
 */
extern Jsonb *ocpb_mask_secrets(Jsonb *storage, OcpbSecretList *secrets);

#endif
