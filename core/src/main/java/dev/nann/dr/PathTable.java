package dev.nann.dr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A Deep Retrieval structure's shape ({@code dr.json}) and its trained item → paths table
 * ({@code paths.tsv}: {@code item<TAB>c1.c2...cD,...}), as {@code ./nann trainer train-dr} writes them.
 * Paths are coded as base-K numbers ({@link PathModel#code(int[], int)}); an item with fewer than J
 * paths has -1 in the remaining slots. Read by serving ({@link PathModel}) and by index-sync.
 *
 * @param depth D, layers
 * @param width K, nodes per layer
 * @param perItem J, paths per item
 * @param codes item id → its J path codes
 */
public record PathTable(int depth, int width, int perItem, Map<Long, long[]> codes) {
  /** Reads {@code dir}; every problem is an {@link IllegalArgumentException} naming its file and line. */
  public static PathTable read(Path dir) {
    try {
      JsonNode spec = new ObjectMapper().readTree(dir.resolve("dr.json").toFile());
      int depth = spec.path("depth").asInt(0);
      int width = spec.path("width").asInt(0);
      int perItem = spec.path("paths_per_item").asInt(0);
      if (width < 2 || depth < 1 || perItem < 1) {
        throw new IllegalArgumentException(dir.resolve("dr.json") + " needs width >= 2, depth >= 1, paths_per_item >= 1");
      }
      Map<Long, long[]> codes = new HashMap<>();
      int line = 0;
      for (String l : Files.readAllLines(dir.resolve("paths.tsv"))) {
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
      return new PathTable(depth, width, perItem, Map.copyOf(codes));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the DR structure in " + dir + ": " + e.getMessage(), e);
    }
  }
}
