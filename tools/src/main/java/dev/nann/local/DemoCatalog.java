package dev.nann.local;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * The demo's MovieLens-based catalog and event log, committed under {@code demo/} and made by
 * {@code ./nann trainer make-demo}: item embeddings, titles, and every rating as a user event.
 *
 * @param ids item ids, row order of {@code embeddings}
 * @param embeddings row-major {@code ids.length x dim}
 * @param titles item id to title
 * @param events user events in time order
 */
public record DemoCatalog(long[] ids, float[] embeddings, int dim, Map<Long, String> titles, List<Event> events) {
  /** One rating replayed as a user event. */
  public record Event(long user, long item, long timestamp) {
  }

  /** The catalogue in {@code dir}, of the dimension its model takes ({@code model/model.json}'s item_dim). */
  public static DemoCatalog load(Path dir) {
    return load(dir, dev.nann.scorer.ModelSpec.read(dir.resolve("model")).itemDim());
  }

  /** Reads {@code dir/catalog/items.f32}, {@code dir/catalog/items.tsv} and {@code dir/events.tsv.gz}. */
  public static DemoCatalog load(Path dir, int dim) {
    try {
      List<Long> ids = new ArrayList<>();
      Map<Long, String> titles = new HashMap<>();
      for (String line : Files.readAllLines(dir.resolve("catalog/items.tsv"), StandardCharsets.UTF_8)) {
        String[] p = line.split("\t", 2);
        long id = Long.parseLong(p[0]);
        ids.add(id);
        titles.put(id, p.length > 1 ? p[1] : "");
      }
      byte[] raw = Files.readAllBytes(dir.resolve("catalog/items.f32"));
      if (raw.length != ids.size() * dim * Float.BYTES) {
        throw new IllegalArgumentException(dir.resolve("catalog/items.f32") + " holds " + raw.length + " bytes, expected "
            + ids.size() + " items x " + dim + " floats");
      }
      float[] emb = new float[ids.size() * dim];
      ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(emb);
      List<Event> events = new ArrayList<>();
      try (BufferedReader r = new BufferedReader(new InputStreamReader(
          new GZIPInputStream(Files.newInputStream(dir.resolve("events.tsv.gz"))), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          String[] p = line.split("\t");
          events.add(new Event(Long.parseLong(p[0]), Long.parseLong(p[1]), Long.parseLong(p[2])));
        }
      }
      return new DemoCatalog(ids.stream().mapToLong(Long::longValue).toArray(), emb, dim, titles, events);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the demo catalog under " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * This catalog with {@code extra} synthetic items appended (for larger snapshots): each a random
   * demo item's embedding with 10% Gaussian noise, ids from 1,000,000 up.
   */
  public DemoCatalog padded(int extra, long seed) {
    if (extra <= 0) {
      return this;
    }
    java.util.Random r = new java.util.Random(seed);
    long[] allIds = java.util.Arrays.copyOf(ids, ids.length + extra);
    float[] all = java.util.Arrays.copyOf(embeddings, (ids.length + extra) * dim);
    for (int i = 0; i < extra; i++) {
      allIds[ids.length + i] = 1_000_000L + i;
      int src = r.nextInt(ids.length);
      for (int j = 0; j < dim; j++) {
        all[(ids.length + i) * dim + j] = embeddings[src * dim + j] * (1 + 0.1f * (float) r.nextGaussian());
      }
    }
    return new DemoCatalog(allIds, all, dim, titles, events);
  }

  public String title(long item) {
    return titles.getOrDefault(item, "item " + item);
  }
}
