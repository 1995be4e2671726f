/* eahas: the whole public C API. Include this one header; link libeahas.
 * Modules, in the order data flows (DESIGN.md): util, space, energy, net, train, tabular, sweep,
 * surrogate, search, report. */
#ifndef EAHAS_H
#define EAHAS_H

#include "eahas/util.h"
#include "eahas/space.h"
#include "eahas/energy.h"
#include "eahas/net.h"
#include "eahas/train.h"
#include "eahas/tabular.h"
#include "eahas/sweep.h"
#include "eahas/surrogate.h"
#include "eahas/search.h"
#include "eahas/report.h"

#endif
