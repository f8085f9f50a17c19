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
    this.model = model;
    this.grid = grid;
    this.ownsModel = ownsModel;
    warmUp();
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
    int padded = grid.padTo(n);
    int d = itemDim();
    ModelSpec s = model.spec();
    Map<String, OnnxTensor> inputs = new HashMap<>(((OnnxUserState) user).tensors);
    try (OnnxTensor items = OnnxTensor.createTensor(model.env(), batch.items().duplicate().position(0).limit(padded * d).slice(),
        new long[] {padded, d});
         OnnxTensor idx = OnnxTensor.createTensor(model.env(), batch.userIdx().duplicate().position(0).limit(padded).slice(),
             new long[] {padded})) {
      inputs.put(s.itemEmbName(), items);
      inputs.put(s.userIdxName(), idx);
      try (OrtSession.Result r = model.scoreSession().run(inputs)) {
        ((OnnxTensor) r.get(0)).getFloatBuffer().get(batch.scores(), 0, n);
      }
    } catch (OrtException e) {
      throw new ScorerException("score network of model " + s.version() + " failed on a batch of " + n + ": "
          + e.getMessage(), e);
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
    int d = itemDim();
    ModelSpec s = model.spec();
    for (int i = n; i < padded; i++) {
      merged.userIdx().put(i, 0);
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
      inputs.put(s.itemEmbName(), OnnxTensor.createTensor(model.env(),
          merged.items().duplicate().position(0).limit(padded * d).slice(), new long[] {padded, d}));
      inputs.put(s.userIdxName(), OnnxTensor.createTensor(model.env(),
          merged.userIdx().duplicate().position(0).limit(padded).slice(), new long[] {padded}));
      try (OrtSession.Result r = model.scoreSession().run(inputs)) {
        ((OnnxTensor) r.get(0)).getFloatBuffer().get(merged.scores(), 0, n);
      }
    } catch (OrtException e) {
      throw new ScorerException("score network of model " + s.version() + " failed on a merged batch of " + n
          + " rows for " + userCount + " users: " + e.getMessage(), e);
    } finally {
      inputs.values().forEach(OnnxTensor::close);
    }
  }

  private void warmUp() {
    int d = itemDim();
    UserFeatures dummy = new UserFeatures(new long[] {0}, new float[d], d);
    ScoreBatch batch = newBatch();
    try (UserState u = user(dummy)) {
      for (int size : grid.sizes()) {
        score(u, batch, size);
      }
    }
  }

  @Override
  public void close() {
    if (ownsModel) {
      model.close();
    }
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

    @Override
    public void close() {
      tensors.values().forEach(OnnxTensor::close);
    }
  }
}
