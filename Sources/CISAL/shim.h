// ISA-L's erasure code for PGMISAL (Debian/Ubuntu: libisal-dev). Only PGMISAL imports this module.
#ifndef SWIFT_PGM_CISAL_SHIM_H
#define SWIFT_PGM_CISAL_SHIM_H
#include <isa-l/erasure_code.h>
#endif
