package dev.nann.indexsync;

import dev.nann.dr.PathTable;
import dev.nann.graph.DrStructureId;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemPaths;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Deep Retrieval's item → paths table as index-sync writes it into every snapshot: the trained
 * table ({@code paths.tsv} of a {@code ./nann trainer train-dr} output), and for items the training
 * never saw, the paths of the nearest item (L2 over e_v) that has paths — the "nearest path" rule.
 * Assignments are returned to the caller, which keeps them in state ({@link DrAssignments}), so an
 * item's paths do not change from one build to the next. The table it makes names its structure
 * ({@link DrStructureId}), so serving can refuse it when it loaded another.
 */
public final class DrPathTable {
  private final DrStructureId structure;
  private final int perItem;
  private final Map<Long, long[]> trained;

  DrPathTable(DrStructureId structure, Map<Long, long[]> trained) {
    this.structure = structure;
    this.perItem = structure.perItem();
    this.trained = trained;
  }

  /** Reads {@code dir/dr.json} and {@code dir/paths.tsv}; problems are named with their file. */
  public static DrPathTable load(Path dir) {
    PathTable t = PathTable.read(dir);
    return new DrPathTable(t.structure(), t.codes());
  }

  /**
   * The path table of {@code built}'s live nodes. Items in the trained table keep their paths;
   * an item in {@code assigned} keeps what it got before; any other item (and one assigned J codes
   * of another structure) gets the paths of its nearest neighbour among the items that have paths,
   * and is put in {@code assigned}.
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
      if (c != null && c.length == perItem) {
        System.arraycopy(c, 0, codes, node * perItem, perItem);
        known[node] = true;
        knownCount++;
      }
    }
    if (knownCount == 0) {
      return ItemPaths.of(codes, perItem, structure);   // nothing to be near to: new items stay without paths
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
    return ItemPaths.of(codes, perItem, structure);
  }

  /** The structure this table belongs to. */
  public DrStructureId structure() {
    return structure;
  }

  public int width() {
    return structure.width();
  }

  public int depth() {
    return structure.depth();
  }
}
