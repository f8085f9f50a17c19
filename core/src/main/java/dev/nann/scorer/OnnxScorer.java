package dev.nann.scorer;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Scores with {@code score.onnx} through ONNX Runtime, following the model contract: the user
 * state tensors from {@code user.onnx}, a {@code user_idx} column and the candidate embeddings.
 * Every call is padded up to a {@link ShapeGrid} size (unpadded on the CPU provider); all grid
 * sizes are run once at construction so the first real query does not pay for shape specialisation.
 */
public final class OnnxScorer implements Scorer {
  private final OnnxModel model;
  private final ShapeGrid grid;
  private final boolean ownsModel;
  private final long[] outputShape;   // the score output's shape with the row axis at outputRowAxis; null: not pinned
  private final int outputRowAxis;

  /** Wraps a loaded model with its provider's grid and warms it up. */
  public OnnxScorer(OnnxModel model) {
    this(model, false);
  }

  /**
   * Wraps a loaded model with its provider's grid ({@link ShapeGrid#forProvider}) and warms it up.
   *
   * @param ownsModel close the model when this scorer is closed
   */
  public OnnxScorer(OnnxModel model, boolean ownsModel) {
    this(model, ShapeGrid.forProvider(model.provider()), ownsModel);
  }

  /**
   * @param ownsModel close the model when this scorer is closed
   */
  public OnnxScorer(OnnxModel model, ShapeGrid grid, boolean ownsModel) {
    this(model, grid, ownsModel, true);
  }

  private OnnxScorer(OnnxModel model, ShapeGrid grid, boolean ownsModel, boolean pinOutput) {
    this.model = model;
    this.grid = grid;
    this.ownsModel = ownsModel;
    int d = itemDim();
    try {   // the batch's direct memory too: a failure to allocate it must close the model as well
      ScoreBatch batch = newBatch();
      // warm-up rows are made up, not zero: a model may be undefined at the zero vector (a cosine of
      // unnormalised embeddings) where no real item lies, and what it returns for them is not checked
      java.util.SplittableRandom rnd = new java.util.SplittableRandom(d);
      float[] row = new float[d];
      for (int r = 0; r < batch.capacity(); r++) {
        for (int j = 0; j < d; j++) {
          row[j] = (float) (rnd.nextDouble() * 2 - 1);
        }
        batch.putRow(r, row, 0);
      }
      try (UserState dummy = user(new UserFeatures(new long[] {0}, row.clone(), d))) {
        int probeRows = grid.padTo(Math.min(3, grid.max()));
        long[] probed = probeOutputShape(dummy, batch, probeRows);
        this.outputRowAxis = pinOutput ? rowAxis(probed, probeRows) : -1;
        this.outputShape = outputRowAxis < 0 ? null : probed;
        for (int size : grid.sizes()) {   // warm up: every shape the grid allows runs once before the first query
          scoreRows(dummy, batch, size);
        }
      }
    } catch (RuntimeException | Error e) {
      if (ownsModel) {   // refused here: nobody else holds the model to close its sessions
        model.close();
      }
      throw e;
    }
  }

  /**
   * A scorer whose runtime allocates every call's output tensor, as the plain ONNX Runtime API does:
   * the baseline {@code ./nann bench scorer --compare-output} measures the pinned output against.
   */
  public static OnnxScorer allocatingOutput(OnnxModel model) {
    return new OnnxScorer(model, ShapeGrid.forProvider(model.provider()), false, false);
  }

  /** Whether calls write their scores into the batch's direct buffer (see {@link ScoreBatch#output}). */
  public boolean pinsOutput() {
    return outputShape != null;
  }

  /** Loads {@code dir} and returns a scorer that owns it. */
  public static OnnxScorer open(java.nio.file.Path dir, int intraOpThreads) {
    return new OnnxScorer(OnnxModel.load(dir, intraOpThreads), true);
  }

  public OnnxModel model() {
    return model;
  }

  public ShapeGrid grid() {
    return grid;
  }

  @Override
  public int itemDim() {
    return model.spec().itemDim();
  }

  @Override
  public int maxBatch() {
    return grid.max();
  }

  @Override
  public UserState user(UserFeatures features) {
    Map<String, long[]> shapes = new HashMap<>();
    Map<String, float[]> values = model.runUser(features, shapes);
    Map<String, OnnxTensor> tensors = new HashMap<>();
    try {
      for (Map.Entry<String, float[]> e : values.entrySet()) {
        tensors.put(e.getKey(), OnnxTensor.createTensor(model.env(), FloatBuffer.wrap(e.getValue()), shapes.get(e.getKey())));
      }
    } catch (OrtException e) {
      tensors.values().forEach(OnnxTensor::close);
      throw new ScorerException("cannot hold user state: " + e.getMessage(), e);
    }
    return new OnnxUserState(tensors, values, shapes);
  }

  @Override
  public ScoreBatch newBatch() {
    return new ScoreBatch(grid.max(), itemDim());
  }

  @Override
  public void score(UserState user, ScoreBatch batch, int n) {
    if (n == 0) {
      return;
    }
    if (n > batch.capacity()) {
      throw new IllegalArgumentException("batch of " + n + " rows exceeds its capacity " + batch.capacity());
    }
    scoreRows(user, batch, n);
    batch.requireScores(n, model.spec().version());
  }

  /** {@link #score} without the check of what the model returned. */
  private void scoreRows(UserState user, ScoreBatch batch, int n) {
    int padded = grid.padTo(n);
    try (OnnxTensor items = itemsTensor(batch, padded);
         OnnxTensor idx = userIdxTensor(batch, padded)) {
      run(inputs(user, items, idx), batch, padded, n);
    } catch (OrtException e) {
      throw new ScorerException("score network of model " + model.spec().version() + " failed on a batch of " + n
          + ": " + e.getMessage(), e);
    }
  }

  /**
   * Scores rows {@code [0, n)} of {@code items} for several users in one runtime call: row i is
   * scored against {@code users[userIdx[i]]}. The user state tensors are stacked along their first
   * axis; rows past {@code n} up to the padded size get {@code user_idx} 0. Used by
   * {@link MicroBatchingScorer} to merge the batches of concurrent requests.
   */
  void scoreMerged(OnnxUserState[] users, int userCount, ScoreBatch merged, int n) {
    int padded = grid.padTo(n);
    ModelSpec s = model.spec();
    for (int i = n; i < padded; i++) {
      merged.userIdx().put(i, 0);
    }
    for (int u = 1; u < userCount; u++) {
      if (!stackable(users[0], users[u])) {   // never cut or overrun one user's state to fit another's
        throw new IllegalArgumentException("user states of different shapes cannot be scored in one call");
      }
    }
    Map<String, OnnxTensor> inputs = new HashMap<>();
    try {
      for (String name : users[0].values.keySet()) {
        int per = users[0].values.get(name).length;
        float[] stacked = new float[per * userCount];
        for (int u = 0; u < userCount; u++) {
          System.arraycopy(users[u].values.get(name), 0, stacked, u * per, per);
        }
        long[] shape = users[0].shapes.get(name).clone();
        shape[0] = userCount;
        inputs.put(name, OnnxTensor.createTensor(model.env(), FloatBuffer.wrap(stacked), shape));
      }
      inputs.put(s.itemEmbName(), itemsTensor(merged, padded));
      inputs.put(s.userIdxName(), userIdxTensor(merged, padded));
      run(inputs, merged, padded, n);
    } catch (OrtException e) {
      throw new ScorerException("score network of model " + s.version() + " failed on a merged batch of " + n
          + " rows for " + userCount + " users: " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  /**
   * Runs the score network on {@code inputs} (a call of {@code padded} rows) and copies the first
   * {@code n} scores to {@code batch.scores()}. The output is pinned to the batch's direct buffer when
   * its shape is known, so the runtime allocates no output tensor and nothing is copied out of one:
   * a few µs of a call's fixed cost ({@code ./nann bench scorer --compare-output}; docs/benchmarks.md).
   */
  private void run(Map<String, OnnxTensor> inputs, ScoreBatch batch, int padded, int n) throws OrtException {
    if (outputShape == null) {
      try (OrtSession.Result r = model.scoreSession().run(inputs)) {
        ((OnnxTensor) r.get(model.spec().scoreOutput()).orElseThrow()).getFloatBuffer().get(batch.scores(), 0, n);
      }
      return;
    }
    long[] shape = outputShape.clone();
    shape[outputRowAxis] = padded;
    FloatBuffer out = batch.output();
    try (OnnxTensor pinned = OnnxTensor.createTensor(model.env(), out.duplicate().position(0).limit(padded).slice(), shape);
         OrtSession.Result r = model.scoreSession().run(inputs, java.util.Set.of(),
             Map.of(model.spec().scoreOutput(), pinned))) {
      out.get(0, batch.scores(), 0, n);
    }
  }

  /** Rows {@code [0, rows)} of the batch's candidate embeddings as a tensor over its direct buffer (no copy). */
  private OnnxTensor itemsTensor(ScoreBatch batch, int rows) throws OrtException {
    int d = itemDim();
    return OnnxTensor.createTensor(model.env(), batch.items().duplicate().position(0).limit(rows * d).slice(),
        new long[] {rows, d});
  }

  /** The batch's first {@code rows} {@code user_idx} entries as a tensor over its direct buffer. */
  private OnnxTensor userIdxTensor(ScoreBatch batch, int rows) throws OrtException {
    return OnnxTensor.createTensor(model.env(), batch.userIdx().duplicate().position(0).limit(rows).slice(), new long[] {rows});
  }

  /** A single-user call's inputs: the user state tensors, the candidates and their user_idx column. */
  private Map<String, OnnxTensor> inputs(UserState user, OnnxTensor items, OnnxTensor idx) {
    Map<String, OnnxTensor> inputs = new HashMap<>(((OnnxUserState) user).tensors);
    inputs.put(model.spec().itemEmbName(), items);
    inputs.put(model.spec().userIdxName(), idx);
    return inputs;
  }

  /** The score output's shape on a call of {@code rows} rows, from one unpinned call (the contract's [N], or e.g. [N, 1]). */
  private long[] probeOutputShape(UserState user, ScoreBatch batch, int rows) {
    ModelSpec s = model.spec();
    try (OnnxTensor items = itemsTensor(batch, rows);
         OnnxTensor idx = userIdxTensor(batch, rows);
         OrtSession.Result r = model.scoreSession().run(inputs(user, items, idx))) {
      long[] shape = ((OnnxTensor) r.get(s.scoreOutput()).orElseThrow()).getInfo().getShape();
      long count = 1;
      for (long dim : shape) {
        count *= dim;
      }
      if (count != rows) {
        throw new ModelContractException("score network of model " + s.version() + " returned '" + s.scoreOutput()
            + "' of shape " + java.util.Arrays.toString(shape) + " for " + rows + " candidate rows: the contract is "
            + "one score per row, [N] or [N, 1]");
      }
      return shape;
    } catch (OrtException e) {
      throw new ScorerException("score network of model " + s.version() + " failed on a first call of " + rows
          + " rows: " + e.getMessage(), e);
    }
  }

  /** The axis of {@code shape} that holds the {@code rows} rows when every other axis is 1; -1 otherwise. */
  static int rowAxis(long[] shape, int rows) {
    int axis = -1;
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] == rows && axis < 0) {
        axis = i;
      } else if (shape[i] != 1) {
        return -1;
      }
    }
    return axis;
  }

  @Override
  public void close() {
    if (ownsModel) {
      model.close();
    }
  }

  /**
   * Whether two users' states stack along the first axis into one call: the same shape on every
   * other axis. A user network whose state length follows the history (a mask-driven slice) gives
   * users of different histories different shapes.
   */
  static boolean stackable(OnnxUserState a, OnnxUserState b) {
    if (a == b) {
      return true;
    }
    for (Map.Entry<String, long[]> e : a.shapes.entrySet()) {
      long[] other = b.shapes.get(e.getKey());
      long[] mine = e.getValue();
      if (other == null || other.length != mine.length
          || !java.util.Arrays.equals(mine, 1, mine.length, other, 1, other.length)) {
        return false;
      }
    }
    return true;
  }

  /**
   * User state of one request: the tensors for single-user calls, and the same values as arrays
   * (first axis 1) for stacking into merged calls. Closed when the request is done.
   */
  static final class OnnxUserState implements UserState {
    private final Map<String, OnnxTensor> tensors;
    private final Map<String, float[]> values;
    private final Map<String, long[]> shapes;

    OnnxUserState(Map<String, OnnxTensor> tensors, Map<String, float[]> values, Map<String, long[]> shapes) {
      this.tensors = tensors;
      this.values = values;
      this.shapes = shapes;
    }

    /** The user state tensors by input name, for a single-user call. */
    Map<String, OnnxTensor> tensors() {
      return tensors;
    }

    @Override
    public void close() {
      tensors.values().forEach(OnnxTensor::close);
    }
  }
}
