package dev.nann.scorer;

import java.util.Arrays;

/**
 * What the user network sees of a user: the behaviour sequence, oldest first.
 *
 * @param itemIds external ids of the behaviour items (for models with an id-embedding table)
 * @param embeddings their item embeddings e_v, row-major {@code itemIds.length x dim}
 * @param dim embedding dimension
 */
public record UserFeatures(long[] itemIds, float[] embeddings, int dim) {
  public UserFeatures {
    if (dim <= 0) {
      throw new IllegalArgumentException("dim must be > 0, got " + dim);
    }
    if (embeddings.length != itemIds.length * dim) {
      throw new IllegalArgumentException("behaviour of " + itemIds.length + " items needs " + itemIds.length * dim
          + " embedding floats, got " + embeddings.length);
    }
    for (int i = 0; i < embeddings.length; i++) {
      if (!Float.isFinite(embeddings[i])) {
        throw new IllegalArgumentException("behaviour item " + itemIds[i / dim] + " has a non-finite embedding value");
      }
    }
  }

  /** Number of behaviour items. */
  public int length() {
    return itemIds.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof UserFeatures u && dim == u.dim && Arrays.equals(itemIds, u.itemIds)
        && Arrays.equals(embeddings, u.embeddings);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(itemIds) * 31 + Arrays.hashCode(embeddings);
  }

  @Override
  public String toString() {
    return "UserFeatures[" + itemIds.length + " behaviour items, dim " + dim + "]";
  }
}
