package dev.nann.scorer;

/**
 * Scores candidate items for one user: s_u(e_v).
 *
 * <p>Usage per query: {@link #user} once (runs the user network), then any number of
 * {@link #score} calls, each on the first {@code n} rows of a {@link ScoreBatch} the caller filled
 * with item embeddings. A {@code ScoreBatch} is per-thread scratch, reused across queries; a
 * scorer itself is thread-safe.
 */
public interface Scorer extends AutoCloseable {
  /** Dimension d of the item embeddings this scorer takes. */
  int itemDim();

  /** Largest number of rows one {@link #score} call takes (the caller splits larger batches). */
  int maxBatch();

  /** Runs the user side once for a request. The returned state must be closed after the request. */
  UserState user(UserFeatures features);

  /** A fresh, reusable scratch batch for one thread. */
  ScoreBatch newBatch();

  /**
   * Scores rows {@code [0, n)} of {@code batch.items()} for {@code user}; results land in
   * {@code batch.scores()[0, n)}. Higher is better.
   *
   * @throws ScorerException if the runtime fails
   */
  void score(UserState user, ScoreBatch batch, int n);

  @Override
  void close();
}
