package dev.nann.dr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.graph.DrStructureId;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A Deep Retrieval structure's shape ({@code dr.json}) and its trained item → paths table
 * ({@code paths.tsv}: {@code item<TAB>c1.c2...cD,...}), as {@code ./nann trainer train-dr} writes them.
 * Paths are coded as base-K numbers ({@link PathModel#code(int[], int)}); an item with fewer than J
 * paths has -1 in the remaining slots. Read by serving ({@link PathModel}) and by index-sync.
 *
 * <p>The structure's identity ({@link DrStructureId}) is its D, K, J and the SHA-256 of the bytes of
 * {@code dr.json} and {@code paths.tsv}: every training writes its own (dr.json records the training's
 * history and time), and a copy of the directory keeps it, so serving and index-sync can tell whether
 * they read the same structure. The layer files are not hashed (index-sync does not need them).
 *
 * @param structure D, K, J and the digest of the files
 * @param codes item id → its J path codes
 * @param historyLen the most recent behaviour items whose mean is the user input, as train-dr built it
 *     ({@code history_len} in dr.json; 20, the split's default, for a structure from before it was recorded)
 */
public record PathTable(DrStructureId structure, Map<Long, long[]> codes, int historyLen) {
  /** What a structure that does not say was trained on: train-dr split at the trainer's default --seq-len. */
  static final int DEFAULT_HISTORY_LEN = 20;

  /** D, layers. */
  public int depth() {
    return structure.depth();
  }

  /** K, nodes per layer. */
  public int width() {
    return structure.width();
  }

  /** J, paths per item. */
  public int perItem() {
    return structure.perItem();
  }

  /** Reads {@code dir}; every problem is an {@link IllegalArgumentException} naming its file and line. */
  public static PathTable read(Path dir) {
    try {
      byte[] specBytes = Files.readAllBytes(dir.resolve("dr.json"));
      byte[] tableBytes = Files.readAllBytes(dir.resolve("paths.tsv"));
      JsonNode spec = new ObjectMapper().readTree(specBytes);
      int depth = spec.path("depth").asInt(0);
      int width = spec.path("width").asInt(0);
      int perItem = spec.path("paths_per_item").asInt(0);
      int historyLen = spec.path("history_len").asInt(DEFAULT_HISTORY_LEN);
      if (width < 2 || depth < 1 || perItem < 1 || historyLen < 1) {
        throw new IllegalArgumentException(dir.resolve("dr.json") + " needs width >= 2, depth >= 1, paths_per_item >= 1, "
            + "history_len >= 1");
      }
      try {
        DrStructureId.pathCount(depth, width);
      } catch (IllegalArgumentException tooMany) {
        throw new IllegalArgumentException(dir.resolve("dr.json") + ": " + tooMany.getMessage(), tooMany);
      }
      Map<Long, long[]> codes = new HashMap<>();
      int line = 0;
      for (String l : new String(tableBytes, StandardCharsets.UTF_8).lines().toList()) {
        line++;
        String where = dir.resolve("paths.tsv") + " line " + line;
        String[] parts = l.split("\t");
        String[] paths = parts.length == 2 ? parts[1].split(",") : new String[0];
        if (paths.length == 0 || paths.length > perItem) {
          throw new IllegalArgumentException(where + ": need item<TAB>1.." + perItem + " paths");
        }
        long[] item = new long[perItem];
        Arrays.fill(item, -1);
        for (int j = 0; j < paths.length; j++) {
          String[] nodes = paths[j].split("\\.");
          if (nodes.length != depth) {
            throw new IllegalArgumentException(where + ": path " + paths[j] + " is not " + depth + " nodes");
          }
          int[] path = new int[depth];
          for (int d = 0; d < depth; d++) {
            path[d] = Integer.parseInt(nodes[d]);
            if (path[d] < 0 || path[d] >= width) {
              throw new IllegalArgumentException(where + ": node " + path[d] + " outside [0, " + width + ")");
            }
          }
          item[j] = PathModel.code(path, width);
        }
        codes.put(Long.parseLong(parts[0]), item);
      }
      return new PathTable(DrStructureId.of(depth, width, perItem, digest(specBytes, tableBytes)), Map.copyOf(codes),
          historyLen);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the DR structure in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** SHA-256 of dr.json's length, dr.json and paths.tsv. */
  private static byte[] digest(byte[] spec, byte[] table) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(java.nio.ByteBuffer.allocate(8).putLong(spec.length).array());
      sha.update(spec);
      sha.update(table);
      return sha.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }
}
