package dev.nann.dr;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.nann.scorer.ModelContractException;
import dev.nann.scorer.OrtEnv;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Deep Retrieval structure exported by {@code ./nann trainer train-dr}: D layer networks of K nodes
 * ({@code layer_<d>.onnx}: {@code user} [N, du] and the path prefix [N, d] to log p over K) and the
 * item → paths table ({@code paths.tsv}). {@link #beamSearch} finds a user's most probable paths,
 * scoring the whole beam in one runtime call per layer (DR paper Alg. 1); {@link #items} lists the
 * items of those paths. Thread-safe: sessions are, and a search keeps its state on the stack.
 */
public final class PathModel implements AutoCloseable {
  private final int depth;
  private final int width;
  private final int userDim;
  private final OrtEnvironment env;
  private final List<OrtSession> layers;
  private final Map<Long, List<Long>> itemsByPath;
  private final Path dir;
  private final dev.nann.graph.DrStructureId structure;
  private final int historyLen;

  private PathModel(dev.nann.graph.DrStructureId structure, int historyLen, int userDim, OrtEnvironment env,
                    List<OrtSession> layers, Map<Long, List<Long>> itemsByPath, Path dir) {
    this.dir = dir;
    this.structure = structure;
    this.historyLen = historyLen;
    this.depth = structure.depth();
    this.width = structure.width();
    this.userDim = userDim;
    this.env = env;
    this.layers = layers;
    this.itemsByPath = itemsByPath;
  }

  /**
   * Reads a train-dr output directory's table and checks that its layer files are there, without
   * loading them: a job refuses a bad {@code dr.dir} when submitted, not in every TaskManager's start.
   *
   * @throws ModelContractException naming the file at fault
   */
  public static PathTable checkFiles(Path dir) {
    PathTable table;
    try {
      table = PathTable.read(dir);
    } catch (IllegalArgumentException | java.io.UncheckedIOException e) {
      throw new ModelContractException(e.getMessage(), e);
    }
    for (int d = 0; d < table.depth(); d++) {
      if (!Files.isRegularFile(layerFile(dir, d))) {
        throw new ModelContractException(dir + " lacks layer_" + d + ".onnx");
      }
    }
    return table;
  }

  private static Path layerFile(Path dir, int layer) {
    return dir.resolve("layer_" + layer + ".onnx");
  }

  /** Loads a train-dr output directory; problems are named with their file. */
  public static PathModel load(Path dir, int userDim) {
    PathTable table = checkFiles(dir);
    OrtEnvironment env = OrtEnv.get();
    List<OrtSession> layers = new ArrayList<>();
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(1);
      for (int d = 0; d < table.depth(); d++) {
        layers.add(env.createSession(layerFile(dir, d).toString(), opts));
      }
    } catch (OrtException e) {
      layers.forEach(PathModel::closeQuietly);
      throw new ModelContractException("cannot load the DR layers in " + dir + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      layers.forEach(PathModel::closeQuietly);
      throw e;
    }
    Map<Long, List<Long>> byPath = new HashMap<>();
    table.codes().forEach((item, codes) -> {
      for (long code : codes) {
        if (code >= 0) {
          byPath.computeIfAbsent(code, k -> new ArrayList<>()).add(item);
        }
      }
    });
    PathModel model = new PathModel(table.structure(), table.historyLen(), userDim, env, layers, byPath, dir);
    try {
      model.tryOnce();
    } catch (RuntimeException e) {
      model.close();
      throw e;
    }
    return model;
  }

  /**
   * One beam search of width 1 for a made-up user, so that layers which do not take this job's user
   * vector, name their inputs otherwise or answer another K than dr.json's are refused when loaded
   * rather than on every mode dr request of a job that looks healthy.
   */
  private void tryOnce() {
    float[] user = new float[userDim];
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(userDim);
    for (int i = 0; i < userDim; i++) {
      user[i] = (float) (rnd.nextGaussian() * 0.1);
    }
    try {
      beamSearch(user, 1);
    } catch (dev.nann.scorer.ScorerException e) {
      throw new ModelContractException("the Deep Retrieval structure " + dir + " does not fit this job (user vectors of "
          + userDim + " values, the model's item dimension; K = " + width + " and D = " + depth + " from dr.json): "
          + e.getMessage(), e);
    }
  }

  /** This structure's identity (shape and the digest of its files, see {@link PathTable}). */
  public dev.nann.graph.DrStructureId structure() {
    return structure;
  }

  public int depth() {
    return depth;
  }

  public int width() {
    return width;
  }

  /** One path of this structure as a number (base K), the key of the path tables. */
  public long code(int[] path) {
    return code(path, width);
  }

  /** One path as a number (base K), the key of the path table. */
  public static long code(int[] path, int width) {
    long c = 0;
    for (int node : path) {
      c = c * width + node;
    }
    return c;
  }

  /**
   * The {@code beam} most probable paths for {@code user}, best first.
   *
   * @return paths [B][D] and their log probabilities, as a {@link Beam}
   * @throws dev.nann.scorer.ScorerException when the user vector is not finite or a layer answers
   *     NaN or the wrong number of values: NaN would sort above every real log probability and choose
   *     the paths, so the request fails with the structure named instead
   */
  public Beam beamSearch(float[] user, int beam) {
    if (user.length != userDim) {   // a model of another dimension than the structure's: the request fails, named
      throw new dev.nann.scorer.ScorerException("the Deep Retrieval structure (" + structure + ") takes user vectors of " + userDim
          + " values, but this request's behaviour items have " + user.length
          + ": point dr.dir at a structure trained for the model serving now", null);
    }
    for (float v : user) {
      if (!Float.isFinite(v)) {
        throw new dev.nann.scorer.ScorerException("the Deep Retrieval structure (" + structure + ") got a user vector with "
            + v + " in it: the mean of the user's behaviour items is not finite, so it cannot choose their paths", null);
      }
    }
    int[][] paths = {new int[0]};
    float[] scores = {0f};
    try {
      for (int d = 0; d < depth; d++) {
        int b = paths.length;
        float[] users = new float[b * userDim];
        long[] prefix = new long[b * d];
        for (int r = 0; r < b; r++) {
          System.arraycopy(user, 0, users, r * userDim, userDim);
          for (int i = 0; i < d; i++) {
            prefix[r * d + i] = paths[r][i];
          }
        }
        float[] logp = requirePaths(d, runLayer(d, users, prefix, b), b * width);
        int n = b * width;
        int keep = Math.min(beam, n);
        Integer[] order = new Integer[n];
        float[] total = new float[n];
        for (int i = 0; i < n; i++) {
          order[i] = i;
          total[i] = scores[i / width] + logp[i];
        }
        java.util.Arrays.sort(order, (x, y) -> Float.compare(total[y], total[x]));
        int[][] nextPaths = new int[keep][];
        float[] nextScores = new float[keep];
        for (int j = 0; j < keep; j++) {
          int i = order[j];
          int[] p = java.util.Arrays.copyOf(paths[i / width], d + 1);
          p[d] = i % width;
          nextPaths[j] = p;
          nextScores[j] = total[i];
        }
        paths = nextPaths;
        scores = nextScores;
      }
    } catch (OrtException e) {
      throw new dev.nann.scorer.ScorerException("a layer of the Deep Retrieval structure (" + structure + ") failed: "
          + e.getMessage(), e);
    }
    return new Beam(paths, scores);
  }

  /**
   * A layer's log probabilities, checked: as many as the beam's paths times K, and none NaN. Failures
   * reach clients, so they name the structure by its identity, not by a path on the TaskManager.
   */
  private float[] requirePaths(int layer, float[] logp, int expected) {
    if (logp.length != expected) {
      throw layerFailure(layer, "returned " + logp.length + " log probabilities where " + expected
          + " were expected (beam × K): the layer does not match the structure's K");
    }
    int nan = 0;
    for (float v : logp) {
      nan += v != v ? 1 : 0;
    }
    if (nan > 0) {
      throw layerFailure(layer, "returned NaN for " + nan + " of the " + expected
          + " paths it scored: the structure is not defined for this user, so it cannot choose their paths");
    }
    return logp;
  }

  private dev.nann.scorer.ScorerException layerFailure(int layer, String what) {
    return new dev.nann.scorer.ScorerException("layer " + layer + " of the Deep Retrieval structure (" + structure + ") " + what,
        null);
  }

  private float[] runLayer(int d, float[] users, long[] prefix, int rows) throws OrtException {
    Map<String, OnnxTensor> in = new HashMap<>();
    try {
      in.put("user", OnnxTensor.createTensor(env, FloatBuffer.wrap(users), new long[] {rows, userDim}));
      if (d > 0) {
        in.put("prefix", OnnxTensor.createTensor(env, LongBuffer.wrap(prefix), new long[] {rows, d}));
      }
      try (OrtSession.Result r = layers.get(d).run(in)) {
        FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
      }
    } finally {
      in.values().forEach(OnnxTensor::close);
    }
  }

  /** This structure's user input for {@code features} ({@link #userVector(dev.nann.scorer.UserFeatures, int)}). */
  public float[] userVector(dev.nann.scorer.UserFeatures features) {
    return userVector(features, historyLen);
  }

  /**
   * The structure's user input, as train-dr builds it: the mean of the e_v of the user's most recent
   * {@code historyLen} behaviour items (zeros for a user without history). The state keeps up to
   * state.max-sequence items; the structure was trained on histories cut to the run's --seq-len, and
   * a mean over more is an input it never saw.
   */
  public static float[] userVector(dev.nann.scorer.UserFeatures features, int historyLen) {
    int d = features.dim();
    float[] mean = new float[d];
    int from = Math.max(0, features.length() - historyLen);   // oldest first: the last ones are the most recent
    int n = features.length() - from;
    for (int i = from; i < features.length(); i++) {
      for (int j = 0; j < d; j++) {
        mean[j] += features.embeddings()[i * d + j] / n;
      }
    }
    return mean;
  }

  /** {@link #gather(int[][], dev.nann.graph.HnswIndex, dev.nann.graph.ItemIdLookup, int, java.util.function.IntPredicate)}: every node, no limit. */
  public java.util.BitSet gather(int[][] paths, dev.nann.graph.HnswIndex index, dev.nann.graph.ItemIdLookup ids) {
    return gather(paths, index, ids, Integer.MAX_VALUE, node -> true);
  }

  /**
   * The index nodes on {@code paths} that {@code usable} accepts, at most {@code limit} of them (nodes
   * a query may not answer, filtered out or excluded, take none of the limit): from the snapshot's own
   * path table when it has one (it also holds the paths index-sync gave to items added after
   * training), else from this structure's trained table through the index's id lookup. A snapshot table of unknown structure
   * (written before tables named theirs) is read as this structure's. Paths are taken best first and
   * the gathering stops at {@code limit} nodes: every item gathered is scored, and a structure whose
   * paths hold most of the catalogue (new items all given their nearest trained item's paths, or
   * paths collapsed in training) would otherwise score it all.
   *
   * @throws dev.nann.scorer.ScorerException when the snapshot's table belongs to another structure:
   *     its codes name other paths, so the items gathered would be unrelated to the user
   */
  public java.util.BitSet gather(int[][] paths, dev.nann.graph.HnswIndex index, dev.nann.graph.ItemIdLookup ids,
                                 int limit, java.util.function.IntPredicate usable) {
    java.util.BitSet out = new java.util.BitSet(index.size());
    int room = limit;
    dev.nann.graph.ItemPaths table = index.paths();
    if (!table.isEmpty()) {
      requireSameStructure(table, index.meta().version());
      for (int p = 0; p < paths.length && room > 0; p++) {
        for (int node : table.nodesOf(code(paths[p]))) {
          if (!out.get(node) && usable.test(node)) {
            out.set(node);
            if (--room == 0) {
              break;
            }
          }
        }
      }
      return out;
    }
    for (long id : items(paths)) {   // best path first, each item once
      int node = ids.nodeOf(id);
      if (node >= 0 && !out.get(node) && usable.test(node)) {
        out.set(node);
        if (--room == 0) {
          break;
        }
      }
    }
    return out;
  }

  /** Refuses another structure's table; the reason reaches clients, so it names no file. */
  private void requireSameStructure(dev.nann.graph.ItemPaths table, long version) {
    table.structure().filter(s -> !s.equals(structure)).ifPresent(s -> {
      throw new dev.nann.scorer.ScorerException("index version " + version + " holds Deep Retrieval paths of structure "
          + s + ", but this job loaded structure " + structure + ": the paths name other items. "
          + "Point index-sync's and serving's dr.dir at the same train-dr output (after its dr.dir changes, "
          + "index-sync's next build writes the paths of the new structure)", null);
    });
  }

  /** Item ids on the given paths (each once). */
  public List<Long> items(int[][] paths) {
    java.util.LinkedHashSet<Long> out = new java.util.LinkedHashSet<>();
    for (int[] p : paths) {
      out.addAll(itemsByPath.getOrDefault(code(p, width), List.of()));
    }
    return new ArrayList<>(out);
  }

  /** A beam search's result: paths, best first, with their log probabilities. */
  public record Beam(int[][] paths, float[] logp) {
  }

  @Override
  public void close() {
    layers.forEach(PathModel::closeQuietly);
  }

  private static void closeQuietly(OrtSession s) {
    try {
      s.close();
    } catch (OrtException ignored) {
      // frees native memory only
    }
  }
}
