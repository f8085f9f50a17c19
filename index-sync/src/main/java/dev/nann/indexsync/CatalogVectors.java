package dev.nann.indexsync;

import dev.nann.schemas.ItemEmbedding;
import java.util.List;

/**
 * Catalog embeddings as the builder takes them, checked against {@code index.dim}. The decoder
 * refuses records of another length, but catalog state restored from a job that ran with another
 * {@code index.dim} still holds them: such an item is never truncated or padded into the index; it
 * is skipped and counted, and {@link #summary} says what to do, so a build neither fails on every
 * restart nor indexes a wrong vector. One instance per build.
 */
final class CatalogVectors {
  private final int dim;
  private long skipped;
  private long exampleId;
  private int exampleSize;

  /** @param dim {@code index.dim}, the length every indexed embedding has */
  CatalogVectors(int dim) {
    this.dim = dim;
  }

  /** The item's embedding as floats, or null (counted) when it is not {@code dim} long. */
  float[] of(ItemEmbedding item) {
    List<Float> e = item.getEmbedding();
    int size = e == null ? 0 : e.size();
    if (size != dim) {
      if (skipped++ == 0) {
        exampleId = item.getItemId();
        exampleSize = size;
      }
      return null;
    }
    float[] v = new float[dim];
    for (int j = 0; j < dim; j++) {
      v[j] = e.get(j);
    }
    return v;
  }

  /** Items skipped so far for their embedding's length. */
  long skipped() {
    return skipped;
  }

  /** The log line for the skipped items of build {@code what}, or null when none were. */
  String summary(String what) {
    if (skipped == 0) {
      return null;
    }
    return what + ": " + skipped + " catalog item(s) left out of the index, their embeddings are not index.dim = "
        + dim + " floats long (item " + exampleId + " has " + exampleSize + "). The catalog state was written by a job "
        + "with another index.dim: set index.dim back, or start index-sync without its state and resend "
        + "item-embeddings at the new dimension";
  }
}
