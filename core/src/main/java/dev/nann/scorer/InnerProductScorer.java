package dev.nann.scorer;

import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Scores two-sided models as the inner product e_u · e_v in Java: the user network still runs
 * through ONNX Runtime once per request (its {@code u_vec} output is e_u), but candidates need no
 * runtime call. Equivalent to the model's own {@code score.onnx} for {@code arch=two-sided}.
 */
public final class InnerProductScorer implements Scorer {
  private final OnnxModel model;
  private final int maxBatch;

  public InnerProductScorer(OnnxModel model) {
    this(model, ShapeGrid.defaults().max());
  }

  public InnerProductScorer(OnnxModel model, int maxBatch) {
    if (!"two-sided".equals(model.spec().arch())) {
      throw new ModelContractException("inner-product scoring needs a two-sided model; " + model.dir() + " is "
          + model.spec().arch());
    }
    this.model = model;
    this.maxBatch = maxBatch;
  }

  @Override
  public int itemDim() {
    return model.spec().itemDim();
  }

  @Override
  public int maxBatch() {
    return maxBatch;
  }

  @Override
  public UserState user(UserFeatures features) {
    Map<String, long[]> shapes = new HashMap<>();
    float[] eu = model.runUser(features, shapes).get(model.spec().userOutputs().get(0));
    if (eu.length != itemDim()) {
      throw new ModelContractException("two-sided model " + model.dir() + " user vector has " + eu.length
          + " values, expected item_dim " + itemDim());
    }
    return new VectorUser(eu);
  }

  /** A user given directly by its vector e_u (tests, tools). */
  public static UserState userVector(float[] eu) {
    return new VectorUser(eu.clone());
  }

  @Override
  public ScoreBatch newBatch() {
    return new ScoreBatch(maxBatch, itemDim());
  }

  @Override
  public void score(UserState user, ScoreBatch batch, int n) {
    float[] eu = ((VectorUser) user).eu;
    FloatBuffer items = batch.items();
    float[] out = batch.scores();
    int d = eu.length;
    for (int row = 0, base = 0; row < n; row++, base += d) {
      float s = 0;
      for (int j = 0; j < d; j++) {
        s += eu[j] * items.get(base + j);
      }
      out[row] = s;
    }
    batch.requireScores(n, model.spec().version());
  }

  @Override
  public void close() {
    // the model is owned by the caller
  }

  private record VectorUser(float[] eu) implements UserState {
    @Override
    public void close() {
    }
  }
}
