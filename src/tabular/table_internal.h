/* Internal to the tabular module: the SQLite handle behind an eahas_table. */
#ifndef EAHAS_TABLE_INTERNAL_H
#define EAHAS_TABLE_INTERNAL_H

#include <sqlite3.h>

#include "eahas/tabular.h"

sqlite3 *eahas_table__db(eahas_table *t);
const char *eahas_table__path(eahas_table *t);

#endif
