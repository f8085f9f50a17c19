package dev.nann.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A corpus directory written by {@code ./nann trainer train}: {@code corpus.json} (name, dim, items),
 * {@code items.f32} (row-major little-endian e_v), {@code ids.i64} (little-endian item ids, same row
 * order) and {@code users.tsv} ({@code user<TAB>history ids, comma-separated<TAB>ground-truth ids}).
 * The trained model's own item embeddings, so the index and the scorer see the same e_v; rows past
 * the real items are distractors.
 */
public final class FileCorpus {
  private FileCorpus() {
  }

  /** Reads {@code dir}; every problem is named with the file it is in. */
  public static Corpus load(Path dir) {
    try {
      JsonNode meta = new ObjectMapper().readTree(dir.resolve("corpus.json").toFile());
      int dim = meta.path("dim").asInt(0);
      int n = meta.path("items").asInt(-1);
      if (dim <= 0 || n <= 0) {
        throw new IllegalArgumentException(dir.resolve("corpus.json") + " needs positive dim and items");
      }
      float[] emb = new float[n * dim];
      read(dir.resolve("items.f32"), (long) n * dim * Float.BYTES).asFloatBuffer().get(emb);
      for (float v : emb) {
        if (!Float.isFinite(v)) {
          throw new IllegalArgumentException(dir.resolve("items.f32") + " holds a non-finite embedding value");
        }
      }
      long[] ids = new long[n];
      read(dir.resolve("ids.i64"), (long) n * Long.BYTES).asLongBuffer().get(ids);
      Map<Long, Integer> row = new HashMap<>(n * 2);
      for (int i = 0; i < n; i++) {
        if (row.put(ids[i], i) != null) {
          throw new IllegalArgumentException(dir.resolve("ids.i64") + " repeats item id " + ids[i]);
        }
      }
      List<Corpus.User> users = new ArrayList<>();
      int line = 0;
      for (String l : Files.readAllLines(dir.resolve("users.tsv"))) {
        line++;
        String[] parts = l.split("\t", -1);
        if (parts.length != 3) {
          throw new IllegalArgumentException(dir.resolve("users.tsv") + " line " + line + ": need 3 tab-separated fields");
        }
        users.add(new Corpus.User(rows(parts[1], row, dir, line), rows(parts[2], row, dir, line)));
      }
      return new Corpus("dir:" + meta.path("name").asText(dir.getFileName().toString()), emb, ids, dim, users);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read corpus " + dir + ": " + e.getMessage(), e);
    }
  }

  private static int[] rows(String field, Map<Long, Integer> row, Path dir, int line) {
    if (field.isBlank()) {
      return new int[0];
    }
    String[] parts = field.split(",");
    int[] out = new int[parts.length];
    for (int i = 0; i < parts.length; i++) {
      Integer r = row.get(Long.parseLong(parts[i].trim()));
      if (r == null) {
        throw new IllegalArgumentException(dir.resolve("users.tsv") + " line " + line + ": item " + parts[i]
            + " is not in ids.i64");
      }
      out[i] = r;
    }
    return out;
  }

  private static ByteBuffer read(Path file, long bytes) throws IOException {
    long size = Files.size(file);
    if (size != bytes) {
      throw new IllegalArgumentException(file + " has " + size + " bytes, corpus.json implies " + bytes);
    }
    try (FileChannel ch = FileChannel.open(file)) {
      return ch.map(FileChannel.MapMode.READ_ONLY, 0, size).order(ByteOrder.LITTLE_ENDIAN);
    }
  }
}
