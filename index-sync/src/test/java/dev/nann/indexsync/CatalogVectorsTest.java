package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.ItemEmbedding;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Catalog state restored from a job with another {@code index.dim} holds embeddings of another
 * length: a longer one must not be truncated, a shorter one must not fail every build (a restart
 * loop); both are left out, counted, and the log line names the setting.
 */
class CatalogVectorsTest {
  private static ItemEmbedding item(long id, Float... values) {
    return ItemEmbedding.newBuilder().setItemId(id).setEmbedding(List.of(values)).build();
  }

  @Test
  void embeddingsOfAnotherLengthAreLeftOutAndCountedNeverTruncated() {
    CatalogVectors vectors = new CatalogVectors(3);
    assertArrayEquals(new float[] {1f, 2f, 3f}, vectors.of(item(10, 1f, 2f, 3f)));
    assertNull(vectors.of(item(11, 1f, 2f, 3f, 4f)), "longer (restored from a larger index.dim): not truncated");
    assertNull(vectors.of(item(12, 1f, 2f)), "shorter (restored from a smaller index.dim): no IndexOutOfBounds");
    assertArrayEquals(new float[] {4f, 5f, 6f}, vectors.of(item(13, 4f, 5f, 6f)));
    assertEquals(2, vectors.skipped());
    String line = vectors.summary("index version 9");
    assertTrue(line.startsWith("index version 9: 2 catalog item(s) left out") && line.contains("index.dim = 3")
        && line.contains("item 11 has 4"), line);
  }

  @Test
  void aCatalogOfTheRightLengthSaysNothing() {
    CatalogVectors vectors = new CatalogVectors(2);
    vectors.of(item(1, 0f, 1f));
    assertEquals(0, vectors.skipped());
    assertNull(vectors.summary("index version 1"));
  }
}
