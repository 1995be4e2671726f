/* Softmax cross-entropy with label smoothing, as PyTorch's CrossEntropyLoss(label_smoothing=eps)
 * with mean reduction: target distribution q_k = (1 - eps) [k == y] + eps / K. */
#include <math.h>

#include "eahas/net.h"

double eahas_softmax_xent(const float *logits, const int *labels, int n, int classes, double eps, float *dlogits,
                          int *correct) {
  double total = 0.0;
  int hits = 0;
  for (int i = 0; i < n; i++) {
    const float *z = logits + (size_t)i * classes;
    int y = labels[i];
    int arg = 0;
    double mx = z[0];
    for (int k = 1; k < classes; k++)
      if (z[k] > mx) {
        mx = z[k];
        arg = k;
      }
    hits += arg == y;
    double se = 0.0, sumz = 0.0;
    for (int k = 0; k < classes; k++) {
      se += exp((double)z[k] - mx);
      sumz += (double)z[k] - mx;
    }
    double lse = log(se); /* log-sum-exp of the shifted logits */
    double zy = (y >= 0 && y < classes) ? (double)z[y] - mx : 0.0;
    /* -sum_k q_k log p_k with log p_k = z_k - mx - lse */
    total += (1.0 - eps) * (lse - zy) + eps * (lse - sumz / classes);
    if (dlogits) {
      float *d = dlogits + (size_t)i * classes;
      for (int k = 0; k < classes; k++) {
        double p = exp((double)z[k] - mx - lse);
        double q = eps / classes + (k == y ? 1.0 - eps : 0.0);
        d[k] = (float)((p - q) / n);
      }
    }
  }
  if (correct) *correct = hits;
  return n > 0 ? total / n : 0.0;
}
