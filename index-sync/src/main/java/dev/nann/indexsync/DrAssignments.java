package dev.nann.indexsync;

import dev.nann.graph.DrStructureId;
import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemPaths;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.ValueState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * index-sync's nearest-path assignments ({@code dr-assigned}: item → path codes) as one build reads
 * and writes them, with the structure they were made under ({@code dr-structure}, a
 * {@link DrStructureId#key}). Path codes only mean paths of the structure that made them, and the
 * state outlives a retrain (a new {@code dr.dir}, restored from a checkpoint): assignments made
 * under another structure, or before the state named one, are dropped, and their items take the
 * paths of their nearest item in the new structure again. Entries that do not fit the structure
 * (another J, or a code outside K^D) are dropped the same way.
 */
final class DrAssignments {
  private static final Logger LOG = LoggerFactory.getLogger(DrAssignments.class);

  private DrAssignments() {
  }

  /**
   * Restored assignments, checked against a structure.
   *
   * @param kept the assignments that belong to the structure
   * @param dropped how many stored assignments were left out
   * @param reason why (null when none was)
   */
  record Restored(Map<Long, long[]> kept, int dropped, String reason) {
  }

  /**
   * The paths of {@code built}'s live nodes under {@code table}'s structure: reads the stored
   * assignments, drops those of another structure (logged), assigns the new items, and writes the
   * assignments back with the structure's key.
   *
   * @param what the build, for the log ("index version 7")
   */
  static ItemPaths assign(DrPathTable table, HnswIndex built, MapState<Long, long[]> assigned,
                          ValueState<String> structure, String what) throws Exception {
    Restored r = restore(table.structure(), structure.value(), assigned.entries());
    if (r.dropped() > 0) {
      LOG.warn("{}: dropped {} Deep Retrieval path assignments {}; their items take the paths of their nearest item "
          + "again", what, r.dropped(), r.reason());
      assigned.clear();
    }
    Map<Long, long[]> next = new HashMap<>(r.kept());
    java.util.Set<Long> live = new java.util.HashSet<>();
    for (int node = 0; node < built.size(); node++) {
      if (!built.isDeleted(node)) {
        live.add(built.itemId(node));
      }
    }
    for (Long gone : r.kept().keySet()) {
      if (!live.contains(gone)) {   // a deleted item's paths go with it: added again later, it is assigned anew
        next.remove(gone);
        assigned.remove(gone);
      }
    }
    ItemPaths paths = table.forIndex(built, next);
    for (Map.Entry<Long, long[]> e : next.entrySet()) {
      if (r.dropped() > 0 || !r.kept().containsKey(e.getKey())) {   // the kept are stored already, unless cleared above
        assigned.put(e.getKey(), e.getValue());
      }
    }
    structure.update(table.structure().key());
    long added = next.keySet().stream().filter(id -> !r.kept().containsKey(id)).count();
    if (added > 0) {
      LOG.info("{}: {} new items got the DR paths of their nearest item", what, added);
    }
    return paths;
  }

  /**
   * The stored assignments that belong to {@code current}.
   *
   * @param assignedUnder the key of the structure they were made under; null when the state predates it
   */
  static Restored restore(DrStructureId current, String assignedUnder, Iterable<Map.Entry<Long, long[]>> stored) {
    Map<Long, long[]> all = new HashMap<>();
    for (Map.Entry<Long, long[]> e : stored) {
      all.put(e.getKey(), e.getValue());
    }
    if (all.isEmpty()) {
      return new Restored(all, 0, null);
    }
    if (assignedUnder == null) {
      return new Restored(Map.of(), all.size(), "made before assignments recorded their structure (their codes may "
          + "name paths of another one than " + current + ")");
    }
    if (!assignedUnder.equals(current.key())) {
      return new Restored(Map.of(), all.size(), "made under structure " + describe(assignedUnder)
          + "; dr.dir now holds " + current);
    }
    long limit = current.paths();
    Map<Long, long[]> kept = new HashMap<>();
    for (Map.Entry<Long, long[]> e : all.entrySet()) {
      if (fits(e.getValue(), current.perItem(), limit)) {
        kept.put(e.getKey(), e.getValue());
      }
    }
    int dropped = all.size() - kept.size();
    return new Restored(kept, dropped, dropped == 0 ? null
        : "that do not fit structure " + current + " (another number of paths, or a code outside K^D)");
  }

  private static boolean fits(long[] codes, int perItem, long limit) {
    if (codes == null || codes.length != perItem) {
      return false;
    }
    for (long c : codes) {
      if (c < -1 || c >= limit) {
        return false;
      }
    }
    return true;
  }

  /** A structure key as a message shows it ("D=3 K=16 J=3 sha256=1a2b3c4d5e6f"), or the key as stored. */
  private static String describe(String key) {
    String[] p = key.split("/");
    try {
      return new DrStructureId(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]), p[3]).toString();
    } catch (RuntimeException e) {
      return key;
    }
  }
}
