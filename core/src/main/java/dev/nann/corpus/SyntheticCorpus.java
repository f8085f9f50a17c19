package dev.nann.corpus;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Seeded synthetic corpus: items drawn from a mixture of clusters of uneven size (as item
 * catalogues are), users whose behaviour and held-out truth come from a few taste neighbourhoods
 * each (an anchor item and its nearest cluster-mates).
 * Same arguments, same corpus, on any machine.
 *
 * <p>Each cluster is a Gaussian on a random {@value #INTRINSIC_DIM}-dimensional subspace around its
 * centre, plus a little isotropic noise: learned embeddings have a low intrinsic dimension, and
 * with full-rank isotropic clusters in 64 dimensions every item of a cluster is almost equidistant
 * from every other, so no L2 neighbourhood (and no graph) means anything inside a cluster.
 */
public final class SyntheticCorpus {
  /** Intrinsic dimension of each cluster. */
  public static final int INTRINSIC_DIM = 8;
  private static final float SPREAD = 0.35f;
  private static final float NOISE = 0.05f;
  private static final float NESTED_SPREAD = 0.25f;
  private static final int TASTE_POOL = 512;
  private static final int TASTE_SIZE = 40;

  private SyntheticCorpus() {
  }

  /**
   * @param items number of items (1 .. 50M)
   * @param dim embedding dimension
   * @param users evaluation users to make
   * @param seed everything derives from it
   */
  public static Corpus generate(int items, int dim, int users, long seed) {
    return generate(items, dim, users, seed, seed + 1);
  }

  /**
   * Like {@link #generate(int, int, int, long)} with the users drawn from their own seed, so a
   * training set of users ({@code userSeed} other than {@code seed + 1}) never overlaps the
   * evaluation users over the same items.
   */
  public static Corpus generate(int items, int dim, int users, long seed, long userSeed) {
    return generate(items, dim, users, seed, userSeed, false);
  }

  /**
   * @param nested when true, cluster centres are themselves grouped around about sqrt(clusters)
   *     "category" centres, close enough that neighbouring clusters touch (as sub-categories of
   *     learned embeddings do); when false every cluster is an island about 11 units from the
   *     next, with items about 1.4 apart inside it
   */
  public static Corpus generate(int items, int dim, int users, long seed, long userSeed, boolean nested) {
    if (items < 1 || items > 50_000_000) {
      throw new IllegalArgumentException("synthetic corpus size must be in [1, 50000000], got " + items);
    }
    if (dim < 1 || dim > 4096) {
      throw new IllegalArgumentException("dim must be in [1, 4096], got " + dim);
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    int clusters = Math.max(1, Math.min(items, (int) Math.round(Math.sqrt(items) * 2)));
    float[] centers = new float[clusters * dim];
    for (int i = 0; i < centers.length; i++) {
      centers[i] = (float) rnd.nextGaussian();
    }
    if (nested) {
      int categories = Math.max(1, (int) Math.round(Math.sqrt(clusters)));
      float[] top = new float[categories * dim];
      for (int i = 0; i < top.length; i++) {
        top[i] = (float) rnd.nextGaussian();
      }
      for (int c = 0; c < clusters; c++) {
        int cat = rnd.nextInt(categories);
        for (int j = 0; j < dim; j++) {
          centers[c * dim + j] = top[cat * dim + j] + NESTED_SPREAD * centers[c * dim + j];
        }
      }
    }
    // Uneven cluster popularity: weight ~ 1/(rank+10), sampled by inverse CDF.
    double[] cdf = new double[clusters];
    double total = 0;
    for (int c = 0; c < clusters; c++) {
      total += 1.0 / (c + 10);
      cdf[c] = total;
    }
    int[] clusterOf = new int[items];
    float[] emb = new float[items * dim];
    long[] ids = new long[items];
    int r = Math.min(INTRINSIC_DIM, dim);
    float[] bases = new float[clusters * dim * r];      // per cluster a dim x r basis
    double basisScale = SPREAD / Math.sqrt(r);
    for (int i = 0; i < bases.length; i++) {
      bases[i] = (float) (rnd.nextGaussian() * basisScale);
    }
    float[] z = new float[r];
    for (int i = 0; i < items; i++) {
      int c = sample(cdf, rnd.nextDouble() * total);
      clusterOf[i] = c;
      ids[i] = i;
      int base = i * dim;
      int cb = c * dim;
      int bb = c * dim * r;
      for (int t = 0; t < r; t++) {
        z[t] = (float) rnd.nextGaussian();
      }
      for (int j = 0; j < dim; j++) {
        float v = centers[cb + j] + NOISE * (float) rnd.nextGaussian();
        for (int t = 0; t < r; t++) {
          v += bases[bb + j * r + t] * z[t];
        }
        emb[base + j] = v;
      }
    }
    List<List<Integer>> members = new ArrayList<>(clusters);
    for (int c = 0; c < clusters; c++) {
      members.add(new ArrayList<>());
    }
    for (int i = 0; i < items; i++) {
      members.get(clusterOf[i]).add(i);
    }
    rnd = new SplittableRandom(userSeed);
    List<Corpus.User> us = new ArrayList<>(users);
    for (int u = 0; u < users; u++) {
      int interests = 1 + rnd.nextInt(3);
      int[][] tastes = new int[interests][];
      for (int f = 0; f < interests; f++) {
        int cluster;
        do {
          cluster = sample(cdf, rnd.nextDouble() * total);
        } while (members.get(cluster).isEmpty());
        tastes[f] = tasteNeighbourhood(members.get(cluster), emb, dim, rnd);
      }
      int len = 10 + rnd.nextInt(41);
      int[] behavior = new int[len];
      for (int b = 0; b < len; b++) {
        int[] t = tastes[rnd.nextInt(interests)];
        behavior[b] = t[rnd.nextInt(t.length)];
      }
      int[] truth = new int[10];
      for (int t = 0; t < truth.length; t++) {
        int[] n = tastes[rnd.nextInt(interests)];
        truth[t] = n[rnd.nextInt(n.length)];
      }
      us.add(new Corpus.User(behavior, java.util.Arrays.stream(truth).distinct().toArray()));
    }
    return new Corpus((nested ? "synthetic-nested:" : "synthetic:") + items + ":d" + dim + ":r" + r + ":s" + seed, emb, ids,
        dim, us);
  }

  /**
   * A user's taste inside one cluster: a random anchor item and the items nearest to it among up to
   * {@value #TASTE_POOL} random members of the cluster. Tastes are local in item space, so what a
   * user engages with next is predictable from where their past items lie, as with learned
   * embeddings.
   */
  private static int[] tasteNeighbourhood(List<Integer> cluster, float[] emb, int dim, SplittableRandom rnd) {
    int anchor = cluster.get(rnd.nextInt(cluster.size()));
    int pool = Math.min(TASTE_POOL, cluster.size());
    long[] byDistance = new long[pool];
    for (int i = 0; i < pool; i++) {
      int item = cluster.get(rnd.nextInt(cluster.size()));
      double d = 0;
      for (int j = 0; j < dim; j++) {
        double x = emb[item * dim + j] - emb[anchor * dim + j];
        d += x * x;
      }
      byDistance[i] = ((long) Float.floatToIntBits((float) d) << 32) | item;
    }
    java.util.Arrays.sort(byDistance);
    int keep = Math.max(1, Math.min(TASTE_SIZE, pool));
    int[] out = new int[keep];
    for (int i = 0; i < keep; i++) {
      out[i] = (int) byDistance[i];
    }
    return out;
  }

  private static int sample(double[] cdf, double x) {
    int i = java.util.Arrays.binarySearch(cdf, x);
    return Math.min(cdf.length - 1, i >= 0 ? i : -i - 1);
  }
}
