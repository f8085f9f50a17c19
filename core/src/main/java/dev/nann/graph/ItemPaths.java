package dev.nann.graph;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Deep Retrieval's item → paths table for an index's nodes: J path codes per node (a path
 * {@code c_1..c_D} of a K-wide structure coded as the base-K number, -1 for none), written into the
 * snapshot by index-sync so the table travels with the graph, and the inverted map path → nodes that
 * {@code mode=dr} gathers from. It names the structure its codes belong to ({@link #structure}),
 * unknown for a table read from a snapshot written before structures had an identity. Immutable.
 */
public final class ItemPaths {
  private static final ItemPaths EMPTY = new ItemPaths(new long[0], 0, null);

  private final long[] codes;      // node * perItem + j
  private final int perItem;
  private final DrStructureId structure;   // null: unknown
  private final Map<Long, int[]> nodesByPath;

  private ItemPaths(long[] codes, int perItem, DrStructureId structure) {
    this.codes = codes;
    this.perItem = perItem;
    this.structure = structure;
    // two passes (count, then fill) so a path of n nodes costs O(n), not n array copies
    Map<Long, int[]> byPath = new HashMap<>();
    Map<Long, Integer> filled = new HashMap<>();
    for (long code : codes) {
      if (code >= 0) {
        filled.merge(code, 1, Integer::sum);
      }
    }
    filled.forEach((code, n) -> byPath.put(code, new int[n]));
    filled.replaceAll((code, n) -> 0);
    for (int i = 0; i < codes.length; i++) {
      if (codes[i] >= 0) {
        byPath.get(codes[i])[filled.merge(codes[i], 1, Integer::sum) - 1] = i / perItem;
      }
    }
    this.nodesByPath = byPath;
  }

  public static ItemPaths empty() {
    return EMPTY;
  }

  /**
   * A table whose structure is unknown (as in snapshots written before structures had an identity).
   *
   * @param codes node-major, {@code perItem} codes per node, -1 where a node has fewer paths
   */
  public static ItemPaths of(long[] codes, int perItem) {
    return of(codes, perItem, null);
  }

  /**
   * @param codes node-major, {@code perItem} codes per node, -1 where a node has fewer paths
   * @param structure the structure the codes belong to (its J must be {@code perItem}), or null for unknown
   */
  public static ItemPaths of(long[] codes, int perItem, DrStructureId structure) {
    if (perItem < 1 || codes.length % perItem != 0) {
      throw new IllegalArgumentException(codes.length + " codes are not " + perItem + " per node");
    }
    if (structure != null && structure.perItem() != perItem) {
      throw new IllegalArgumentException("codes of " + perItem + " paths per node cannot belong to structure "
          + structure + ", which gives " + structure.perItem());
    }
    return new ItemPaths(codes.clone(), perItem, structure);
  }

  public boolean isEmpty() {
    return perItem == 0;
  }

  public int perItem() {
    return perItem;
  }

  /** The structure the codes belong to; empty when unknown (or for the empty table). */
  public java.util.Optional<DrStructureId> structure() {
    return java.util.Optional.ofNullable(structure);
  }

  /** Nodes covered. */
  public int nodes() {
    return perItem == 0 ? 0 : codes.length / perItem;
  }

  /** The nodes on path {@code code} (none when no node has it). */
  public int[] nodesOf(long code) {
    return nodesByPath.getOrDefault(code, new int[0]);
  }

  /** Node {@code node}'s path codes (-1 for none). */
  public long[] pathsOf(int node) {
    return Arrays.copyOfRange(codes, node * perItem, (node + 1) * perItem);
  }

  long[] codes() {
    return codes;
  }
}
