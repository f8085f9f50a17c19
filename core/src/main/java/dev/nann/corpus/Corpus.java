package dev.nann.corpus;

import dev.nann.scorer.UserFeatures;
import java.util.List;

/**
 * Items with embeddings plus evaluation users. Row {@code i} is item {@code itemIds[i]} and becomes
 * graph node {@code i} when the index is built in corpus order.
 *
 * @param name how the corpus was made (for reports and cache keys)
 * @param embeddings row-major {@code itemIds.length x dim}
 * @param itemIds external item ids
 * @param dim embedding dimension
 * @param users evaluation users: behaviour sequence and held-out ground truth, as rows
 */
public record Corpus(String name, float[] embeddings, long[] itemIds, int dim, List<User> users) {
  /**
   * @param behavior rows of the behaviour items, oldest first
   * @param truth rows of the held-out items the user engaged with next (G_u)
   */
  public record User(int[] behavior, int[] truth) {
  }

  public int size() {
    return itemIds.length;
  }

  /** The user network's input for {@code u}: behaviour ids and embeddings from this corpus. */
  public UserFeatures features(User u) {
    long[] ids = new long[u.behavior().length];
    float[] emb = new float[ids.length * dim];
    for (int i = 0; i < ids.length; i++) {
      int row = u.behavior()[i];
      ids[i] = itemIds[row];
      System.arraycopy(embeddings, row * dim, emb, i * dim, dim);
    }
    return new UserFeatures(ids, emb, dim);
  }
}
