package dev.nann.corpus;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

/**
 * MovieLens-100k loader ({@code u.data}: user, item, rating, timestamp; {@code u.item}: id | title
 * | date | video | url | 19 genre flags). Each user's interactions are ordered by time; the last
 * {@code holdout} become the ground truth G_u, the rest the behaviour sequence. Malformed rows are
 * counted and skipped, never fatal.
 */
public final class MovieLensCorpus {
  /** Width of the item feature vector: 19 genres, release year, 12 id-hash features. */
  public static final int FEATURES = 32;

  private MovieLensCorpus() {
  }

  /** What was read, including the rows that were skipped. */
  public record Data(long[] itemIds, float[] features, List<long[]> sequences, int badRows) {
  }

  /** Reads {@code dir/u.item} and {@code dir/u.data}. */
  public static Data read(Path dir) {
    Path items = dir.resolve("u.item");
    Path data = dir.resolve("u.data");
    if (!Files.isRegularFile(items) || !Files.isRegularFile(data)) {
      throw new IllegalArgumentException(dir + " is not a MovieLens-100k directory (needs u.item and u.data)");
    }
    int bad = 0;
    List<long[]> itemRows = new ArrayList<>();
    List<float[]> feats = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(items, StandardCharsets.ISO_8859_1)) {
        String[] f = line.split("\\|", -1);
        if (f.length < 24) {
          bad += line.isBlank() ? 0 : 1;
          continue;
        }
        try {
          long id = Long.parseLong(f[0].trim());
          float[] x = new float[FEATURES];
          for (int g = 0; g < 19; g++) {
            x[g] = "1".equals(f[5 + g].trim()) ? 1f : 0f;
          }
          String date = f[2].trim();
          int year = date.length() >= 4 ? Integer.parseInt(date.substring(date.length() - 4)) : 1990;
          x[19] = (year - 1950) / 50f;
          SplittableRandom h = new SplittableRandom(id * 0x9E3779B97F4A7C15L);
          for (int j = 20; j < FEATURES; j++) {
            x[j] = (float) (h.nextDouble() - 0.5);
          }
          itemRows.add(new long[] {id});
          feats.add(x);
        } catch (NumberFormatException e) {
          bad++;
        }
      }
      Map<Long, Integer> rowOf = new HashMap<>();
      long[] ids = new long[itemRows.size()];
      float[] features = new float[ids.length * FEATURES];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = itemRows.get(i)[0];
        rowOf.put(ids[i], i);
        System.arraycopy(feats.get(i), 0, features, i * FEATURES, FEATURES);
      }
      Map<Long, List<long[]>> byUser = new HashMap<>();
      for (String line : Files.readAllLines(data, StandardCharsets.ISO_8859_1)) {
        String[] f = line.trim().split("\\s+");
        if (f.length < 4) {
          bad += line.isBlank() ? 0 : 1;
          continue;
        }
        try {
          long user = Long.parseLong(f[0]);
          long item = Long.parseLong(f[1]);
          long ts = Long.parseLong(f[3]);
          Integer row = rowOf.get(item);
          if (row == null) {
            bad++;
            continue;
          }
          byUser.computeIfAbsent(user, u -> new ArrayList<>()).add(new long[] {ts, row});
        } catch (NumberFormatException e) {
          bad++;
        }
      }
      List<long[]> sequences = new ArrayList<>();
      byUser.keySet().stream().sorted().forEach(u -> {
        List<long[]> events = byUser.get(u);
        events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        sequences.add(events.stream().mapToLong(e -> e[1]).toArray());
      });
      return new Data(ids, features, sequences, bad);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read MovieLens from " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Builds a corpus.
   *
   * @param embed item features ({@code n x FEATURES}) and n to embeddings ({@code n x dim}); e.g. a
   *     model's item network, or {@link #randomProjection}
   * @param holdout interactions per user held out as ground truth
   */
  public static Corpus load(Path dir, int dim, int holdout, BiFunction<float[], Integer, float[]> embed) {
    Data d = read(dir);
    float[] emb = embed.apply(d.features(), d.itemIds().length);
    if (emb.length != d.itemIds().length * dim) {
      throw new IllegalArgumentException("item embedder returned " + emb.length + " floats for "
          + d.itemIds().length + " items of dim " + dim);
    }
    List<Corpus.User> users = new ArrayList<>();
    for (long[] seq : d.sequences()) {
      if (seq.length <= holdout) {
        continue;
      }
      int[] behavior = new int[seq.length - holdout];
      int[] truth = new int[holdout];
      for (int i = 0; i < seq.length; i++) {
        if (i < behavior.length) {
          behavior[i] = (int) seq[i];
        } else {
          truth[i - behavior.length] = (int) seq[i];
        }
      }
      users.add(new Corpus.User(behavior, java.util.Arrays.stream(truth).distinct().toArray()));
    }
    return new Corpus("movielens:" + dir.getFileName() + ":d" + dim, emb, d.itemIds(), dim, users);
  }

  /** A seeded linear map from item features to dim-dimensional embeddings (untrained stand-in for an item network). */
  public static BiFunction<float[], Integer, float[]> randomProjection(int dim, long seed) {
    return (features, n) -> {
      SplittableRandom rnd = new SplittableRandom(seed);
      float[] w = new float[FEATURES * dim];
      for (int i = 0; i < w.length; i++) {
        w[i] = (float) (rnd.nextGaussian() / Math.sqrt(FEATURES) * 3);
      }
      float[] out = new float[n * dim];
      for (int i = 0; i < n; i++) {
        for (int f = 0; f < FEATURES; f++) {
          float x = features[i * FEATURES + f];
          if (x != 0) {
            for (int j = 0; j < dim; j++) {
              out[i * dim + j] += x * w[f * dim + j];
            }
          }
        }
      }
      return out;
    };
  }
}
