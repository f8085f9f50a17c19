package dev.nann.indexsync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemPaths;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Deep Retrieval's item → paths table as index-sync writes it into every snapshot: the trained
 * table ({@code paths.tsv} of a {@code trainer/train_dr.py} output), and for items the training
 * never saw, the paths of the nearest item (L2 over e_v) that has paths — the "nearest path" rule.
 * Assignments are returned to the caller, which keeps them in state, so an item's paths do not
 * change from one build to the next.
 */
public final class DrPathTable {
  private final int width;
  private final int depth;
  private final int perItem;
  private final Map<Long, long[]> trained;

  DrPathTable(int width, int depth, int perItem, Map<Long, long[]> trained) {
    this.width = width;
    this.depth = depth;
    this.perItem = perItem;
    this.trained = trained;
  }

  /** Reads {@code dir/dr.json} and {@code dir/paths.tsv}; problems are named with their file. */
  public static DrPathTable load(Path dir) {
    try {
      JsonNode spec = new ObjectMapper().readTree(dir.resolve("dr.json").toFile());
      int width = spec.path("width").asInt(0);
      int depth = spec.path("depth").asInt(0);
      int perItem = spec.path("paths_per_item").asInt(0);
      if (width < 2 || depth < 1 || perItem < 1) {
        throw new IllegalArgumentException(dir.resolve("dr.json") + " needs width >= 2, depth >= 1, paths_per_item >= 1");
      }
      Map<Long, long[]> trained = new HashMap<>();
      int line = 0;
      for (String l : Files.readAllLines(dir.resolve("paths.tsv"))) {
        line++;
        String[] parts = l.split("\t");
        String[] paths = parts.length == 2 ? parts[1].split(",") : new String[0];
        if (paths.length == 0 || paths.length > perItem) {
          throw new IllegalArgumentException(dir.resolve("paths.tsv") + " line " + line + ": need item<TAB>1.." + perItem
              + " paths");
        }
        long[] codes = new long[perItem];
        Arrays.fill(codes, -1);
        for (int j = 0; j < paths.length; j++) {
          String[] nodes = paths[j].split("\\.");
          if (nodes.length != depth) {
            throw new IllegalArgumentException(dir.resolve("paths.tsv") + " line " + line + ": path " + paths[j]
                + " is not " + depth + " nodes");
          }
          long code = 0;
          for (String n : nodes) {
            int node = Integer.parseInt(n);
            if (node < 0 || node >= width) {
              throw new IllegalArgumentException(dir.resolve("paths.tsv") + " line " + line + ": node " + node
                  + " outside [0, " + width + ")");
            }
            code = code * width + node;
          }
          codes[j] = code;
        }
        trained.put(Long.parseLong(parts[0]), codes);
      }
      return new DrPathTable(width, depth, perItem, trained);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the DR structure in " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * The path table of {@code built}'s live nodes. Items in the trained table keep their paths;
   * an item in {@code assigned} keeps what it got before; any other item gets the paths of its
   * nearest neighbour among the items that have paths, and is added to {@code assigned}.
   */
  public ItemPaths forIndex(HnswIndex built, Map<Long, long[]> assigned) {
    int n = built.size();
    int d = built.dim();
    long[] codes = new long[n * perItem];
    Arrays.fill(codes, -1);
    boolean[] known = new boolean[n];
    int knownCount = 0;
    for (int node = 0; node < n; node++) {
      if (built.isDeleted(node)) {
        continue;
      }
      long id = built.itemId(node);
      long[] c = trained.containsKey(id) ? trained.get(id) : assigned.get(id);
      if (c != null) {
        System.arraycopy(c, 0, codes, node * perItem, perItem);
        known[node] = true;
        knownCount++;
      }
    }
    if (knownCount == 0) {
      return ItemPaths.of(codes, perItem);   // nothing to be near to: new items stay without paths
    }
    float[] row = new float[d];
    float[] other = new float[d];
    for (int node = 0; node < n; node++) {
      if (built.isDeleted(node) || known[node]) {
        continue;
      }
      built.embeddings().copyRow(node, row, 0);
      int best = -1;
      double bestDist = Double.MAX_VALUE;
      for (int cand = 0; cand < n; cand++) {
        if (!known[cand]) {
          continue;
        }
        built.embeddings().copyRow(cand, other, 0);
        double dist = 0;
        for (int j = 0; j < d; j++) {
          double diff = row[j] - other[j];
          dist += diff * diff;
        }
        if (dist < bestDist) {
          bestDist = dist;
          best = cand;
        }
      }
      long[] c = Arrays.copyOfRange(codes, best * perItem, (best + 1) * perItem);
      System.arraycopy(c, 0, codes, node * perItem, perItem);
      assigned.put(built.itemId(node), c);
    }
    return ItemPaths.of(codes, perItem);
  }

  public int width() {
    return width;
  }

  public int depth() {
    return depth;
  }
}
