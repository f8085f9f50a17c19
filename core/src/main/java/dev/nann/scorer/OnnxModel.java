package dev.nann.scorer;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loaded model directory: {@code model.json} plus ONNX Runtime sessions for {@code user.onnx},
 * {@code score.onnx} and, if present, {@code item.onnx}. Loading checks every tensor name, element
 * type and fixed dimension against the contract and fails with a {@link ModelContractException}
 * that names the file and tensor. Sessions are thread-safe; one model serves all threads.
 */
public final class OnnxModel implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

  private final Path dir;
  private final ModelSpec spec;
  private final OrtEnvironment env;
  private final OrtSession user;
  private final OrtSession score;
  private final OrtSession item;
  private final String provider;
  private boolean mergeable;   // set once by checkContract, before the model is handed out
  private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
  /** Models loaded in this JVM and not closed yet: their sessions' native memory has no other owner. */
  private static final java.util.concurrent.atomic.AtomicInteger OPEN = new java.util.concurrent.atomic.AtomicInteger();

  private OnnxModel(Path dir, ModelSpec spec, OrtEnvironment env, OrtSession user, OrtSession score, OrtSession item,
                    String provider) {
    this.provider = provider;
    this.dir = dir;
    this.spec = spec;
    this.env = env;
    this.user = user;
    this.score = score;
    this.item = item;
  }

  /** Loads with one intra-op thread per call (callers parallelise across queries). */
  public static OnnxModel load(Path dir) {
    return load(dir, ScorerRuntime.cpu(1));
  }

  /** Loads on the CPU provider with {@code intraOpThreads} ONNX Runtime threads per call. */
  public static OnnxModel load(Path dir, int intraOpThreads) {
    return load(dir, ScorerRuntime.cpu(intraOpThreads));
  }

  /**
   * Loads and validates {@code dir}: every ONNX file's SHA-256 against the list in model.json, then
   * tensor names, element types and fixed dimensions against the contract.
   *
   * @param runtime execution provider and threads
   */
  public static OnnxModel load(Path dir, ScorerRuntime runtime) {
    return load(dir, runtime, null);
  }

  /**
   * {@link #load(Path, ScorerRuntime)} of a model whose model.json must have SHA-256 {@code pinned}
   * (null: any), checked on the very bytes the spec is parsed from.
   */
  public static OnnxModel load(Path dir, ScorerRuntime runtime, String pinned) {
    ModelSpec spec = ModelSpec.read(dir, pinned);
    spec.verifyChecksums(dir, spec.networkFiles());   // the networks: against the very bytes loaded, in open()
    OrtEnvironment env = OrtEnv.get();
    String cudaProblem = null;
    if (runtime.provider() != ScorerRuntime.Provider.CPU) {
      try {
        return open(dir, spec, env, runtime, true);
      } catch (CudaUnavailableException e) {
        cudaProblem = e.getMessage();
      }
      if (runtime.provider() == ScorerRuntime.Provider.CUDA) {
        throw new ScorerException("scorer provider is cuda but model " + dir + " cannot run on CUDA device "
            + runtime.deviceId() + ": " + cudaProblem + " (set the provider to auto to fall back to the CPU)", null);
      }
      // said at every load (loads are rare): a GPU that fails for one model (e.g. out of memory
      // during a swap) must not be hidden behind an earlier message
      if (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
        LOG.warn("model {}: no usable GPU ({}); scoring on the CPU provider", dir, cudaProblem);
      } else {
        LOG.info("model {}: scoring on the CPU provider: {}", dir, cudaProblem);
      }
    }
    return open(dir, spec, env, runtime, false);
  }

  private static OnnxModel open(Path dir, ModelSpec spec, OrtEnvironment env, ScorerRuntime runtime, boolean cuda) {
    OrtSession user = null;
    OrtSession score = null;
    OrtSession item = null;
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(runtime.intraOpThreads());
      opts.setInterOpNumThreads(1);
      opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      // No CPU arena: the walker threads share one session, and the arena's lock made each call wait
      // for the other thread's allocations (two threads on 2 cores: 28-80 us a call against 22 without
      // it, the same as one thread alone; docs/benchmarks.md "What one score-network call costs")
      opts.setCPUArenaAllocator(false);
      String provider = "CPU";
      if (cuda) {
        if (!OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
          throw new CudaUnavailableException("this build has the CPU-only ONNX Runtime (build with -Pgpu for CUDA)");
        }
        try {
          opts.addCUDA(runtime.deviceId());
        } catch (OrtException e) {
          throw new CudaUnavailableException(e.getMessage());
        }
        provider = "CUDA:" + runtime.deviceId();
      }
      try {
        user = open(env, dir, spec, spec.userFile(), opts);
        score = open(env, dir, spec, spec.scoreFile(), opts);
        if (spec.itemFile() != null && Files.exists(dir.resolve(spec.itemFile()))) {
          item = open(env, dir, spec, spec.itemFile(), opts);
        }
      } catch (ModelContractException e) {
        if (cuda && e.getCause() instanceof OrtException) {
          // a network the CPU provider does not load either (a broken file, an opset the runtime lacks)
          // is the model's fault: said as such, not as a GPU that cannot run it
          requireLoadsOnCpu(env, dir, spec);
          throw new CudaUnavailableException(e.getMessage());   // e.g. a CUDA build on a machine without a device
        }
        throw e;
      }
      OnnxModel model = new OnnxModel(dir, spec, env, user, score, item, provider);
      model.checkContract();
      OPEN.incrementAndGet();
      return model;
    } catch (OrtException e) {
      closeQuietly(user, score, item);
      throw new ModelContractException("cannot load model " + dir + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(user, score, item);
      throw e;
    }
  }

  /** Opens and closes each network on the CPU provider: throws the model's own problem if one does not load there. */
  private static void requireLoadsOnCpu(OrtEnvironment env, Path dir, ModelSpec spec) {
    try (OrtSession.SessionOptions cpu = new OrtSession.SessionOptions()) {
      for (String file : spec.networkFiles()) {
        if (Files.exists(dir.resolve(file))) {
          closeQuietly(open(env, dir, spec, file, cpu));
        }
      }
    } catch (OrtException e) {   // the options themselves; not the model's problem
      LOG.debug("could not check {} on the CPU provider", dir, e);
    }
  }

  /** CUDA could not be used for this load (no provider in the build, no driver or device). */
  private static final class CudaUnavailableException extends RuntimeException {
    CudaUnavailableException(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * A session over the bytes of {@code file}, checked against the SHA-256 model.json lists for it:
   * the runtime gets the very bytes that were checked (no file swapped in between), and a network
   * that keeps its weights in separate files (ONNX external data) does not load, since those files
   * would escape the checksums.
   */
  private static OrtSession open(OrtEnvironment env, Path dir, ModelSpec spec, String file,
                                 OrtSession.SessionOptions opts) throws OrtException {
    Path p = dir.resolve(file);
    if (!Files.isRegularFile(p)) {
      throw new ModelContractException("model directory " + dir + " lacks " + file);
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(p);
    } catch (java.io.IOException | OutOfMemoryError e) {
      throw new ModelContractException("cannot read " + p + " (a network must be one file under 2 GiB): " + e, e);
    }
    if (spec.checksums().containsKey(file)) {
      spec.requireListedChecksum(file, p, ModelSpec.sha256(bytes));
    }
    try {
      return env.createSession(bytes, opts);
    } catch (OrtException e) {
      String external = e.getMessage() != null && e.getMessage().toLowerCase(java.util.Locale.ROOT).contains("external")
          ? " (its weights are in separate files, ONNX external data: save the network with its weights inside, "
              + "e.g. onnx.save_model(m, path, save_as_external_data=False), so the checksums cover them)" : "";
      throw new ModelContractException(p + " is not a loadable ONNX model" + external + ": " + e.getMessage(), e);
    }
  }

  private void checkContract() throws OrtException {
    int d = spec.itemDim();
    int seq = spec.maxSeqLen();
    Map<String, NodeInfo> userIn = user.getInputInfo();
    requireNames(spec.userFile(), "input", userIn.keySet(), spec.userInputs().keySet());
    for (Map.Entry<String, String> e : spec.userInputs().entrySet()) {
      TensorInfo t = tensor(spec.userFile(), e.getKey(), userIn.get(e.getKey()));
      switch (e.getValue()) {
        case "behavior_embeddings" -> expect(spec.userFile(), e.getKey(), t, OnnxJavaType.FLOAT, -1, seq, d);
        case "behavior_mask" -> expect(spec.userFile(), e.getKey(), t, OnnxJavaType.FLOAT, -1, seq);
        default -> expect(spec.userFile(), e.getKey(), t, OnnxJavaType.INT64, -1, seq);
      }
    }
    requireNames(spec.userFile(), "output", user.getOutputInfo().keySet(), spec.userOutputs());
    for (String name : spec.userOutputs()) {   // read as floats, then fed to the score network
      requireFloat(spec.userFile(), name, tensor(spec.userFile(), name, user.getOutputInfo().get(name)));
    }
    Map<String, NodeInfo> scoreIn = score.getInputInfo();
    java.util.List<String> want = new java.util.ArrayList<>(spec.userOutputs());
    want.add(spec.userIdxName());
    want.add(spec.itemEmbName());
    requireNames(spec.scoreFile(), "input", scoreIn.keySet(), want);
    boolean stackable = true;
    for (String name : spec.userOutputs()) {
      long[] shape = tensor(spec.scoreFile(), name, scoreIn.get(name)).getShape();
      stackable &= shape.length > 0 && shape[0] < 0;
    }
    this.mergeable = stackable;
    expect(spec.scoreFile(), spec.itemEmbName(), tensor(spec.scoreFile(), spec.itemEmbName(),
        scoreIn.get(spec.itemEmbName())), OnnxJavaType.FLOAT, -1, d);
    expect(spec.scoreFile(), spec.userIdxName(), tensor(spec.scoreFile(), spec.userIdxName(),
        scoreIn.get(spec.userIdxName())), OnnxJavaType.INT64, -1);
    for (String rows : java.util.List.of(spec.itemEmbName(), spec.userIdxName())) {
      long first = tensor(spec.scoreFile(), rows, scoreIn.get(rows)).getShape()[0];
      if (first >= 0) {   // the walk's calls have any number of candidate rows
        throw new ModelContractException(dir.resolve(spec.scoreFile()) + ": '" + rows + "' has a fixed first dimension ("
            + first + "); the candidate axis N must be dynamic (export with dynamic_axes on it, as export_model_dir does)");
      }
    }
    requireNames(spec.scoreFile(), "output", score.getOutputInfo().keySet(), java.util.List.of(spec.scoreOutput()));
    TensorInfo out = tensor(spec.scoreFile(), spec.scoreOutput(), score.getOutputInfo().get(spec.scoreOutput()));
    requireFloat(spec.scoreFile(), spec.scoreOutput(), out);
    long[] outShape = out.getShape();
    if (outShape.length < 1 || outShape.length > 2 || outShape.length == 2 && outShape[1] >= 0 && outShape[1] != 1) {
      throw new ModelContractException(dir.resolve(spec.scoreFile()) + ": '" + spec.scoreOutput() + "' has shape "
          + java.util.Arrays.toString(outShape) + "; the contract is one score per candidate row, [N] or [N, 1]");
    }
    if (item != null) {
      requireNames(spec.itemFile(), "input", item.getInputInfo().keySet(), java.util.List.of(spec.itemInput()));
      requireNames(spec.itemFile(), "output", item.getOutputInfo().keySet(), java.util.List.of(spec.itemOutput()));
      // item_feat_dim says what the network takes: a width model.json gets wrong fails here, not on the first call
      expect(spec.itemFile(), spec.itemInput(), tensor(spec.itemFile(), spec.itemInput(),
          item.getInputInfo().get(spec.itemInput())), OnnxJavaType.FLOAT, -1,
          spec.itemFeatDim() > 0 ? spec.itemFeatDim() : -1);
      expect(spec.itemFile(), spec.itemOutput(), tensor(spec.itemFile(), spec.itemOutput(),
          item.getOutputInfo().get(spec.itemOutput())), OnnxJavaType.FLOAT, -1, d);
    }
  }

  private void requireFloat(String file, String name, TensorInfo t) {
    if (t.type != OnnxJavaType.FLOAT) {
      throw new ModelContractException(dir.resolve(file) + ": '" + name + "' has element type " + t.type
          + ", the contract needs FLOAT (float32)");
    }
  }

  /**
   * Whether the score network takes the user state of several users at once (a dynamic first axis
   * on every user state input), as merged calls ({@code batching.enabled}) need.
   */
  public boolean mergeable() {
    return mergeable;
  }

  private void requireNames(String file, String what, Set<String> actual, java.util.Collection<String> expected) {
    for (String name : expected) {
      if (!actual.contains(name)) {
        throw new ModelContractException(dir.resolve(file) + " has no " + what + " named '" + name + "' (model.json expects "
            + expected + ", the file has " + actual + ")");
      }
    }
    if (what.equals("input") && actual.size() != expected.size()) {
      throw new ModelContractException(dir.resolve(file) + " has inputs " + actual + " but model.json names " + expected);
    }
  }

  private TensorInfo tensor(String file, String name, NodeInfo info) {
    if (!(info.getInfo() instanceof TensorInfo t)) {
      throw new ModelContractException(dir.resolve(file) + ": '" + name + "' is not a tensor");
    }
    return t;
  }

  /** Checks element type and every fixed dimension; -1 in {@code dims} means "any (dynamic)". */
  private void expect(String file, String name, TensorInfo t, OnnxJavaType type, long... dims) {
    if (t.type != type) {
      throw new ModelContractException(dir.resolve(file) + ": '" + name + "' has element type " + t.type
          + ", the contract needs " + type);
    }
    long[] shape = t.getShape();
    if (shape.length != dims.length) {
      throw new ModelContractException(dir.resolve(file) + ": '" + name + "' has rank " + shape.length
          + ", the contract needs rank " + dims.length + " " + java.util.Arrays.toString(dims));
    }
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] >= 0 && shape[i] >= 0 && shape[i] != dims[i]) {
        throw new ModelContractException(dir.resolve(file) + ": '" + name + "' dimension " + i + " is " + shape[i]
            + " but model.json says " + dims[i] + " (item_dim=" + spec.itemDim() + ", max_seq_len=" + spec.maxSeqLen() + ")");
      }
    }
  }

  public ModelSpec spec() {
    return spec;
  }

  /** The execution provider the sessions run on: {@code CPU} or {@code CUDA:<device>}. */
  public String provider() {
    return provider;
  }

  public Path dir() {
    return dir;
  }

  OrtEnvironment env() {
    return env;
  }

  OrtSession userSession() {
    return user;
  }

  OrtSession scoreSession() {
    return score;
  }

  /** Whether the directory has an item network. */
  public boolean hasItemNetwork() {
    return item != null;
  }

  /**
   * Runs the item network: {@code n x itemFeatDim} features to {@code n x itemDim} embeddings e_v.
   */
  public float[] itemEmbeddings(float[] features, int n) {
    if (item == null) {
      throw new ModelContractException("model " + dir + " has no item network (item.onnx)");
    }
    int f = spec.itemFeatDim();
    if (features.length != n * f) {
      throw new IllegalArgumentException(n + " items of " + f + " features need " + n * f + " floats, got "
          + features.length);
    }
    float[] out = new float[n * spec.itemDim()];
    int chunk = 4096;
    try {
      for (int start = 0; start < n; start += chunk) {
        int m = Math.min(chunk, n - start);
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(features, start * f, m * f).slice(),
            new long[] {m, f});
             OrtSession.Result r = item.run(Map.of(spec.itemInput(), in))) {
          ((OnnxTensor) r.get(spec.itemOutput()).orElseThrow()).getFloatBuffer().get(out, start * spec.itemDim(), m * spec.itemDim());
        }
      }
    } catch (OrtException e) {
      throw new ScorerException("item network failed: " + e.getMessage(), e);
    }
    return out;
  }

  /** Runs the user network and returns its outputs as plain arrays with shapes (for the scorers). */
  Map<String, float[]> runUser(UserFeatures f, Map<String, long[]> shapes) {
    ModelSpec s = spec;
    int seq = s.maxSeqLen();
    int d = s.itemDim();
    if (f.dim() != d) {
      throw new IllegalArgumentException("behaviour embeddings have dim " + f.dim() + " but model " + s.version()
          + " takes dim " + d);
    }
    int n = Math.min(seq, f.length());
    int first = f.length() - n;   // keep the most recent behaviours
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      for (Map.Entry<String, String> e : s.userInputs().entrySet()) {
        switch (e.getValue()) {
          case "behavior_embeddings" -> {
            float[] emb = new float[seq * d];
            System.arraycopy(f.embeddings(), first * d, emb, 0, n * d);
            inputs.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(emb), new long[] {1, seq, d}));
          }
          case "behavior_mask" -> {
            float[] mask = new float[seq];
            java.util.Arrays.fill(mask, 0, n, 1f);
            inputs.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(mask), new long[] {1, seq}));
          }
          default -> {
            long[] ids = new long[seq];
            System.arraycopy(f.itemIds(), first, ids, 0, n);
            inputs.put(e.getKey(), OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(ids), new long[] {1, seq}));
          }
        }
      }
      Map<String, float[]> out = new HashMap<>();
      try (OrtSession.Result r = user.run(inputs)) {
        for (String name : s.userOutputs()) {
          OnnxTensor t = (OnnxTensor) r.get(name).orElseThrow();
          FloatBuffer fb = t.getFloatBuffer();
          float[] v = new float[fb.remaining()];
          fb.get(v);
          requireFinite(name, v, n);
          out.put(name, v);
          shapes.put(name, t.getInfo().getShape());
        }
      }
      return out;
    } catch (OrtException e) {
      throw new ScorerException("user network of model " + s.version() + " failed: " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * A user state with NaN or an infinity in it would score every item NaN or alike: the request fails
   * with the model and the history's length named, instead of an answer ranked on nothing.
   */
  private void requireFinite(String output, float[] values, int historyLength) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        throw new ScorerException("the user network of model " + spec.version() + " returned " + v + " in '" + output
            + "' for a history of " + historyLength + " items: the model is not defined for this user, so it cannot "
            + "rank items for them", null);
      }
    }
  }

  /**
   * Models handed out by {@link #load} in this JVM and not closed yet. Runtime sessions are freed only
   * by closing them (no cleaner runs when a model is dropped), so a count that grows with each swap or
   * failed start is native memory lost.
   */
  public static int openModels() {
    return OPEN.get();
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      OPEN.decrementAndGet();
      closeQuietly(user, score, item);
    }
  }

  private static void closeQuietly(OrtSession... sessions) {
    for (OrtSession s : sessions) {
      if (s != null) {
        try {
          s.close();
        } catch (OrtException ignored) {
          // closing a session only frees native memory
        }
      }
    }
  }
}
