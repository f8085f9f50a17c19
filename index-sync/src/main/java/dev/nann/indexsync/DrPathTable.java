package dev.nann.indexsync;

import dev.nann.dr.PathTable;
import dev.nann.graph.DrStructureId;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemPaths;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deep Retrieval's item → paths table as index-sync writes it into every snapshot: the trained
 * table ({@code paths.tsv} of a {@code ./nann trainer train-dr} output), and for items the training
 * never saw, the paths of the nearest item (L2 over e_v) that has paths — the "nearest path" rule
 * (the nearest found through the graph just built, {@link NearestKnown}).
 * Assignments are returned to the caller, which keeps them in state ({@link DrAssignments}), so an
 * item's paths do not change from one build to the next. The table it makes names its structure
 * ({@link DrStructureId}), so serving can refuse it when it loaded another.
 */
public final class DrPathTable {
  private static final Logger LOG = LoggerFactory.getLogger(DrPathTable.class);
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
   * of another structure) gets the paths of its nearest trained item, and is put in {@code assigned}.
   * Assigned items are never a source: paths handed on from item to item would drift with the order
   * the catalogue grew in, and one build of the same catalogue would give other paths.
   */
  public ItemPaths forIndex(HnswIndex built, Map<Long, long[]> assigned) {
    int n = built.size();
    long[] codes = new long[n * perItem];
    Arrays.fill(codes, -1);
    boolean[] known = new boolean[n];
    boolean[] hasPaths = new boolean[n];
    int knownCount = 0;
    int toAssign = 0;
    for (int node = 0; node < n; node++) {
      if (built.isDeleted(node)) {
        continue;
      }
      long id = built.itemId(node);
      long[] t = trained.get(id);
      long[] c = t != null ? t : assigned.get(id);
      if (c != null && c.length == perItem) {
        System.arraycopy(c, 0, codes, node * perItem, perItem);
        hasPaths[node] = true;
        known[node] = t != null;
        knownCount += t != null ? 1 : 0;
      } else {
        toAssign++;
      }
    }
    if (knownCount == 0) {
      if (toAssign > 0) {
        LOG.warn("{} items of this build need Deep Retrieval paths, but none of its items is in {} (structure {}): "
            + "mode dr cannot reach them until the catalogue's item ids are the ones train-dr saw", toAssign,
            "paths.tsv", structure);
      }
      return ItemPaths.of(codes, perItem, structure);   // nothing to be near to: new items stay without paths
    }
    NearestKnown nearest = new NearestKnown(built, known);
    int added = 0;
    int scanned = 0;
    for (int node = 0; node < n; node++) {
      if (built.isDeleted(node) || hasPaths[node]) {
        continue;
      }
      int best = nearest.find(node);
      if (best < 0) {
        best = nearest.scan(node);
        scanned++;
      }
      long[] c = Arrays.copyOfRange(codes, best * perItem, (best + 1) * perItem);
      System.arraycopy(c, 0, codes, node * perItem, perItem);
      assigned.put(built.itemId(node), c);
      added++;
    }
    if (added > 0) {
      LOG.info("{} items without Deep Retrieval paths took their nearest trained item's ({} of them by a scan of all {} "
          + "trained items)", added, scanned, knownCount);
    }
    return ItemPaths.of(codes, perItem, structure);
  }

  /**
   * The nearest item with paths (L2 over e_v) to an item without, found by a best-first walk of the
   * just-built graph's layer 0 from the item itself: its neighbours there are its nearest items, so
   * the walk meets the nearest item with paths after a few hundred distances instead of comparing
   * with every item that has paths (hours for a catalogue of a million after a retrain). The walk
   * keeps the {@link #EF} nearest items it met and stops, as HNSW's search does, once what is left
   * to expand is farther than all of them; until it has met an item with paths it goes on past
   * that, up to {@link #MAX_VISITS} items, and only then is every item with paths compared.
   */
  static final class NearestKnown {
    static final int EF = 64;
    static final int MAX_VISITS = 50_000;
    private final HnswIndex graph;
    private final boolean[] known;
    private final dev.nann.search.VisitedMarks marks;
    private final float[] row;
    private final float[] other;
    private final int[] neighbours;
    private final dev.nann.search.ScoredHeap frontier = new dev.nann.search.ScoredHeap(256, true);
    private final dev.nann.search.ScoredHeap nearest = new dev.nann.search.ScoredHeap(EF, false);
    private long distances;   // computed so far, by walks and scans

    NearestKnown(HnswIndex graph, boolean[] known) {
      this.graph = graph;
      this.known = known;
      this.marks = new dev.nann.search.VisitedMarks(graph.size());
      this.row = new float[graph.dim()];
      this.other = new float[graph.dim()];
      this.neighbours = new int[Math.max(1, graph.graph().maxDegree(0))];
    }

    /** The nearest node with paths the walk met, or -1 when it met none within its visits. */
    int find(int node) {
      marks.newQuery();
      graph.embeddings().copyRow(node, row, 0);
      frontier.reset(0);   // an unbounded max-heap: the capacity is a min-heap's
      nearest.reset(EF);
      marks.mark(node);
      long start = dev.nann.search.ScoredHeap.pack(node, 0f);
      frontier.offer(start);
      nearest.offer(start);
      int best = -1;
      float bestDistance = Float.MAX_VALUE;
      int visits = 0;
      while (frontier.size() > 0 && visits < MAX_VISITS) {
        long c = frontier.poll();
        if (best >= 0 && nearest.isFull() && c < nearest.peek()) {
          break;   // farther than the EF nearest met: the walk has converged
        }
        int count = graph.graph().copyNeighbors(0, dev.nann.search.ScoredHeap.node(c), neighbours, 0);
        for (int i = 0; i < count; i++) {
          int nb = neighbours[i];
          if (marks.visited(nb)) {
            continue;
          }
          marks.mark(nb);
          visits++;
          float d = distance(nb);
          if (known[nb] && d < bestDistance) {
            best = nb;
            bestDistance = d;
          }
          long packed = dev.nann.search.ScoredHeap.pack(nb, -d);
          boolean near = nearest.offer(packed);
          if (near || best < 0) {
            frontier.offer(packed);
          }
        }
      }
      return best;
    }

    /** The nearest node with paths by comparing with every one. */
    int scan(int node) {
      graph.embeddings().copyRow(node, row, 0);
      int best = -1;
      float bestDistance = Float.MAX_VALUE;
      for (int cand = 0; cand < known.length; cand++) {
        if (known[cand]) {
          float d = distance(cand);
          if (d < bestDistance) {
            best = cand;
            bestDistance = d;
          }
        }
      }
      return best;
    }

    /** Distances computed so far (the work the walks saved shows here). */
    long distances() {
      return distances;
    }

    private float distance(int node) {
      distances++;
      graph.embeddings().copyRow(node, other, 0);
      return org.apache.lucene.util.VectorUtil.squareDistance(row, other);
    }
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
