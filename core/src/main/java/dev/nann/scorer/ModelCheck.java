package dev.nann.scorer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Checks a model directory the way serving will use it, before it is published: the contract
 * (model.json, checksums, tensor names, types and shapes), then scores on random items for a user
 * with history and a cold-start user, and the properties the walk relies on — finite scores, scores
 * that differ across items, and an item's score not depending on the batch it was scored in.
 * Behind {@code ./nann check-model}.
 */
public final class ModelCheck {
  /** Relative difference above which an item's score is said to depend on its batch. */
  static final double BATCH_TOLERANCE = 1e-3;

  private ModelCheck() {}

  /**
   * What was checked.
   *
   * @param passed one line per check that held
   * @param warnings what serving tolerates but a user should know
   * @param problems why serving would refuse or mis-serve this model (empty: fine)
   * @param itemsPerSecond items a second scored on one CPU thread in calls of many rows (0: not measured)
   */
  public record Report(List<String> passed, List<String> warnings, List<String> problems, double itemsPerSecond) {
    public boolean ok() {
      return problems.isEmpty();
    }
  }

  /** Checks {@code dir} on the CPU with {@code items} random items, seeded. */
  public static Report run(Path dir, int items, long seed) {
    List<String> passed = new ArrayList<>();
    List<String> warnings = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    ModelSpec spec;
    OnnxModel model;
    try {
      spec = ModelSpec.read(dir);
      passed.add(String.format(Locale.ROOT, "model.json: version %s, arch %s, item dim %d, behaviour length %d",
          spec.version(), spec.arch(), spec.itemDim(), spec.maxSeqLen()));
      model = OnnxModel.load(dir, ScorerRuntime.cpu(1));
      passed.add("ONNX files match model.json's checksums; inputs and outputs match the contract");
      if (!model.mergeable()) {
        warnings.add("the score network takes one user's state per call (a user state input has a fixed first "
            + "dimension): it serves with batching.enabled off (the default) only");
      }
    } catch (RuntimeException e) {
      problems.add(e.getMessage());
      return new Report(passed, warnings, problems, 0);
    }
    double itemsPerSecond = 0;
    try (OnnxScorer scorer = new OnnxScorer(model, ShapeGrid.defaults(), true)) {
      passed.add("every batch size of the shape grid runs (up to " + scorer.maxBatch() + " rows)");
      SplittableRandom rnd = new SplittableRandom(seed);
      int d = spec.itemDim();
      float[] catalog = gaussian(rnd, items * d);
      float[] a = scoreAll(scorer, history(rnd, spec), catalog, items, "a user with history", problems);
      float[] b = scoreAll(scorer, history(rnd, spec), catalog, items, "a second user with history", problems);
      float[] cold = scoreAll(scorer, new UserFeatures(new long[0], new float[0], d), catalog, items,
          "a cold-start user (empty history)", problems);
      checkFinite("a user with history", a, problems);
      checkFinite("a cold-start user (empty history)", cold, problems);
      if (problems.isEmpty()) {
        passed.add("scores are finite, for a user with history and a cold-start user");
        checkSpread(a, passed, problems);
        checkBatchInvariance(scorer, history(rnd, spec), catalog, passed, problems);
        if (model.mergeable()) {
          checkMerged(scorer, history(rnd, spec), history(rnd, spec), catalog, passed, warnings, problems);
        }
        if (Arrays.equals(a, b)) {
          warnings.add("two users with different histories get identical scores: the model does not personalise");
        }
      }
      if (problems.isEmpty()) {
        int rows = Math.min(items, scorer.maxBatch());
        itemsPerSecond = rowsPerSecond(scorer, history(rnd, spec), catalog, rows);
        passed.add(String.format(Locale.ROOT, "%,.0f items/s scored on one CPU thread here (calls of %d rows, the "
            + "fastest of 5)", itemsPerSecond, rows));
      }
    } catch (RuntimeException e) {
      problems.add("scoring failed: " + e.getMessage());
    }
    return new Report(passed, warnings, problems, problems.isEmpty() ? itemsPerSecond : 0);
  }

  private static void checkFinite(String who, float[] scores, List<String> problems) {
    if (scores == null) {
      return;   // scoring this user failed, and said why
    }
    int bad = 0;
    for (float s : scores) {
      bad += Float.isFinite(s) ? 0 : 1;
    }
    if (bad > 0) {
      problems.add(bad + " of " + scores.length + " scores for " + who + " are NaN or infinite");
    }
  }

  /**
   * Whether scores with standard deviation {@code std} and largest magnitude {@code maxAbs} are
   * near-constant: judged against float32's own resolution at that magnitude, so scores of any scale
   * that differ by more than rounding rank items (a model's scores times 1e-7 rank as the model's do).
   * The one rule check-model and the evaluation's warning share.
   */
  public static boolean nearConstant(double std, float maxAbs) {
    return std <= 16 * Math.ulp(maxAbs);
  }

  /** A scorer that gives every item nearly the same score gives the walk nothing to follow. */
  private static void checkSpread(float[] scores, List<String> passed, List<String> problems) {
    double sum = 0;
    double sq = 0;
    float maxAbs = 0;
    for (float s : scores) {
      sum += s;
      sq += (double) s * s;
      maxAbs = Math.max(maxAbs, Math.abs(s));
    }
    double mean = sum / scores.length;
    double std = Math.sqrt(Math.max(0, sq / scores.length - mean * mean));
    if (nearConstant(std, maxAbs)) {
      problems.add(String.format(Locale.ROOT, "scores are (near-)constant across items (mean %.4g, std %.3g): the walk "
          + "cannot tell items apart", mean, std));
    } else {
      passed.add(String.format(Locale.ROOT, "scores differ across items (mean %.4g, std %.4g)", mean, std));
    }
  }

  /** The walk scores an item in batches of any size and mix; its score must not depend on them. */
  private static void checkBatchInvariance(OnnxScorer scorer, UserFeatures user, float[] catalog, List<String> passed,
                                           List<String> problems) {
    int n = Math.min(64, catalog.length / scorer.itemDim());
    float[] together = scoreAll(scorer, user, catalog, n, "a third user with history", problems);
    if (together == null) {
      return;
    }
    float[] alone = new float[n];
    int d = scorer.itemDim();
    ScoreBatch batch = scorer.newBatch();
    try (UserState state = scorer.user(user)) {
      for (int i = 0; i < n; i++) {
        batch.putRow(0, catalog, i * d);
        scorer.score(state, batch, 1);
        alone[i] = batch.scores()[0];
      }
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
      worst = Math.max(worst, Math.abs(together[i] - alone[i]) / Math.max(1e-6, Math.abs(together[i])));
    }
    if (worst > BATCH_TOLERANCE) {
      problems.add(String.format(Locale.ROOT, "an item's score depends on the batch it is scored in (relative "
          + "difference up to %.3g between a batch of %d and one item alone): e.g. batch normalisation in training "
          + "mode or a softmax over candidates was exported", worst, n));
    } else {
      passed.add(String.format(Locale.ROOT, "an item's score does not depend on its batch (max relative difference %.2g)",
          worst));
    }
  }

  /**
   * Micro-batching ({@code batching.enabled}) scores the rows of several users in one call: each
   * row must get the score its own user's call gives it, so the network must pick each row's user
   * state by {@code user_idx}.
   */
  private static void checkMerged(OnnxScorer scorer, UserFeatures first, UserFeatures second, float[] catalog,
                                  List<String> passed, List<String> warnings, List<String> problems) {
    int n = Math.min(32, catalog.length / scorer.itemDim());
    float[] a = scoreAll(scorer, first, catalog, n, "a user with history", problems);
    float[] b = scoreAll(scorer, second, catalog, n, "a second user with history", problems);
    if (a == null || b == null) {
      return;
    }
    ScoreBatch merged = scorer.newBatch();
    try (OnnxScorer.OnnxUserState ua = (OnnxScorer.OnnxUserState) scorer.user(first);
         OnnxScorer.OnnxUserState ub = (OnnxScorer.OnnxUserState) scorer.user(second)) {
      for (int i = 0; i < n; i++) {
        merged.putRow(i, catalog, i * scorer.itemDim());
        merged.userIdx().put(i, i % 2);
      }
      scorer.scoreMerged(new OnnxScorer.OnnxUserState[] {ua, ub}, 2, merged, n);
    }
    double worst = 0;
    for (int i = 0; i < n; i++) {
      float own = i % 2 == 0 ? a[i] : b[i];
      worst = Math.max(worst, Math.abs(merged.scores()[i] - own) / Math.max(1e-6, Math.abs(own)));
    }
    if (worst > BATCH_TOLERANCE) {
      warnings.add(String.format(Locale.ROOT, "in a call of two users' rows an item's score differs from its own "
          + "user's call (relative difference up to %.3g): the score network does not pick each row's user state by "
          + "user_idx, so with batching.enabled it would mis-score; serve it with batching off (the default)", worst));
    } else {
      passed.add("a call of several users' rows scores each row as its own user's call does (batching.enabled)");
    }
  }

  /** Scores of {@code catalog} for {@code user}; null, with the problem noted for {@code who}, if serving would fail it. */
  private static float[] scoreAll(Scorer scorer, UserFeatures user, float[] catalog, int n, String who,
                                  List<String> problems) {
    int d = scorer.itemDim();
    float[] out = new float[n];
    ScoreBatch batch = scorer.newBatch();
    try (UserState state = scorer.user(user)) {
      for (int start = 0; start < n; start += batch.capacity()) {
        int rows = Math.min(batch.capacity(), n - start);
        for (int r = 0; r < rows; r++) {
          batch.putRow(r, catalog, (start + r) * d);
        }
        scorer.score(state, batch, rows);
        System.arraycopy(batch.scores(), 0, out, start, rows);
      }
    } catch (ScorerException e) {   // NaN in the user state or in scores: what serving answers such a request
      problems.add(who + ": " + e.getMessage());
      return null;
    }
    return out;
  }

  /** Rows a second one thread scores in calls of {@code rows} rows, the user network left out (the fastest of 5 calls). */
  private static double rowsPerSecond(Scorer scorer, UserFeatures user, float[] catalog, int rows) {
    ScoreBatch batch = scorer.newBatch();
    for (int r = 0; r < rows; r++) {
      batch.putRow(r, catalog, r * scorer.itemDim());
    }
    long fastest = Long.MAX_VALUE;
    try (UserState state = scorer.user(user)) {
      for (int i = 0; i < 5; i++) {
        long t0 = System.nanoTime();
        scorer.score(state, batch, rows);
        fastest = Math.min(fastest, System.nanoTime() - t0);
      }
    }
    return rows / Math.max(1e-9, fastest / 1e9);
  }

  /** A full behaviour sequence of random items. */
  private static UserFeatures history(SplittableRandom rnd, ModelSpec spec) {
    int len = spec.maxSeqLen();
    long[] ids = new long[len];
    for (int i = 0; i < len; i++) {
      ids[i] = rnd.nextLong(1, Long.MAX_VALUE);
    }
    return new UserFeatures(ids, gaussian(rnd, len * spec.itemDim()), spec.itemDim());
  }

  private static float[] gaussian(SplittableRandom rnd, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rnd.nextGaussian();
    }
    return v;
  }
}
