package dev.nann.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.IntBuffer;
import org.junit.jupiter.api.Test;

/**
 * Upper-level neighbour lists are found by node id: directly where a level's nodes are the ids
 * 0 … n-1 (how the builder numbers them), by a search of the level's sorted ids otherwise.
 */
class HnswGraphViewTest {
  @Test
  void findsUpperLevelRowsWhetherOrNotTheLevelsNodesAreAPrefixOfTheIds() {
    int size = 8;
    int[] level0Offsets = new int[size + 1];   // no level-0 edges: only the upper levels matter here
    IntBuffer[] nodes = {IntBuffer.allocate(0), IntBuffer.wrap(new int[] {0, 1, 2}), IntBuffer.wrap(new int[] {1, 3, 6})};
    IntBuffer[] offsets = {IntBuffer.wrap(level0Offsets), IntBuffer.wrap(new int[] {0, 2, 3, 5}),
        IntBuffer.wrap(new int[] {0, 1, 3, 4})};
    IntBuffer[] neighbors = {IntBuffer.allocate(0), IntBuffer.wrap(new int[] {1, 2, 0, 0, 1}),
        IntBuffer.wrap(new int[] {3, 1, 6, 3})};
    HnswGraphView g = new HnswGraphView(size, 1, nodes, offsets, neighbors);
    // level 1: nodes 0, 1, 2 are their own rows
    assertArrayEquals(new int[] {1, 2}, g.neighbors(1, 0));
    assertArrayEquals(new int[] {0}, g.neighbors(1, 1));
    assertArrayEquals(new int[] {0, 1}, g.neighbors(1, 2));
    assertArrayEquals(new int[0], g.neighbors(1, 5));
    // level 2: nodes 1, 3, 6 sit in rows 0, 1, 2 (node 1 is not row 1, node 3 is past the level's end)
    assertArrayEquals(new int[] {3}, g.neighbors(2, 1));
    assertArrayEquals(new int[] {1, 6}, g.neighbors(2, 3));
    assertArrayEquals(new int[] {3}, g.neighbors(2, 6));
    assertArrayEquals(new int[0], g.neighbors(2, 2));
    assertArrayEquals(new int[0], g.neighbors(2, 0));
    int[] dst = new int[4];
    assertArrayEquals(new int[] {1, 6}, java.util.Arrays.copyOf(dst, g.copyNeighbors(2, 3, dst, 0)));
  }
}
