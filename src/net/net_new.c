/* eahas_net_new: expands the architecture (space module) and builds the network. Kept in its own
 * file so that callers of eahas_net_new_regnet alone do not need the space module linked. */
#include "eahas/net.h"

int eahas_net_new(const eahas_regnet_arch *arch, const eahas_net_opts *opts, int max_batch, uint64_t seed,
                  eahas_net **out, eahas_err *err) {
  if (out) *out = NULL;
  if (!arch) return eahas_err_set(err, EAHAS_EINVAL, "net: NULL architecture");
  eahas_regnet rn;
  int r = eahas_regnet_expand(arch, &rn, err);
  if (r) return r;
  return eahas_net_new_regnet(&rn, opts, max_batch, seed, out, err);
}
