package dev.nann.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SortedBeamTest {
  /**
   * Against the two heaps it replaced: a bounded W and a frontier of every entry that entered W (or,
   * with a drop heap, of every entry scored), polled best first while not below W's worst.
   */
  @Test
  void keepsAndHandsOutWhatABoundedHeapAndAFrontierWould() {
    Random rnd = new Random(11);
    SortedBeam beam = new SortedBeam();
    for (int round = 0; round < 400; round++) {
      boolean withDrops = round % 2 == 1;
      int capacity = 1 + rnd.nextInt(round < 300 ? 20 : 2000);
      beam.reset(capacity);
      ScoredHeap dropped = new ScoredHeap(4, true);
      dropped.reset(0);
      TreeSet<Long> w = new TreeSet<>();          // reference W
      TreeSet<Long> unexpanded = new TreeSet<>(); // reference candidates, in W or (with drops) not
      int node = 0;
      for (int step = 0; step < 60; step++) {
        int n = rnd.nextInt(3 * capacity / 2 + 3);
        long[] batch = new long[n];
        for (int i = 0; i < n; i++) {
          float score = rnd.nextInt(5) == 0 ? rnd.nextInt(6) : (float) rnd.nextGaussian() + step * 0.05f;
          batch[i] = ScoredHeap.pack(node++, score);
          w.add(batch[i]);
          unexpanded.add(batch[i]);
          if (w.size() > capacity) {
            long out = w.pollFirst();
            if (!withDrops) {
              unexpanded.remove(out);
            }
          }
        }
        beam.offerAll(batch, n, withDrops ? dropped : null);
        assertArrayEquals(w.descendingSet().stream().mapToLong(Long::longValue).toArray(),
            contents(beam),
            "round " + round + " step " + step);
        long worst = w.size() >= capacity ? w.first() : Long.MIN_VALUE;
        assertEquals(worst, beam.worst());
        int want = 1 + rnd.nextInt(8);
        int[] got = new int[want];
        int c = beam.takeUnexpanded(want, got);
        int[] expected = unexpanded.descendingSet().stream().filter(e -> e >= worst).limit(want)
            .mapToInt(ScoredHeap::node).toArray();
        assertArrayEquals(expected, Arrays.copyOf(got, c), "round " + round + " step " + step);
        for (int e : expected) {
          unexpanded.removeIf(x -> ScoredHeap.node(x) == e);
        }
      }
      if (withDrops) {   // the candidates outside W: every entry scored that neither stayed nor was expanded
        long[] outside = unexpanded.stream().filter(e -> !w.contains(e)).sorted((a, b) -> Long.compare(b, a))
            .mapToLong(Long::longValue).toArray();
        long[] polled = new long[dropped.size()];
        for (int i = 0; i < polled.length; i++) {
          polled[i] = dropped.poll();
        }
        assertArrayEquals(outside, polled, "round " + round);
      }
    }
  }

  @Test
  void unexpandAllHandsOutEveryEntryAgainBestFirst() {
    SortedBeam beam = new SortedBeam();
    beam.reset(3);
    long[] batch = {ScoredHeap.pack(1, 0.5f), ScoredHeap.pack(2, 2f), ScoredHeap.pack(3, 1f), ScoredHeap.pack(4, -1f)};
    beam.offerAll(batch, batch.length, null);
    int[] out = new int[4];
    assertEquals(3, beam.takeUnexpanded(4, out));
    assertArrayEquals(new int[] {2, 3, 1}, Arrays.copyOf(out, 3));
    assertEquals(0, beam.takeUnexpanded(4, out));
    beam.unexpandAll();
    assertEquals(2, beam.takeUnexpanded(2, out));
    assertArrayEquals(new int[] {2, 3}, Arrays.copyOf(out, 2));
    assertEquals(ScoredHeap.pack(2, 2f), beam.best());
  }

  private static long[] contents(SortedBeam beam) {
    long[] all = new long[beam.size()];
    for (int i = 0; i < all.length; i++) {
      all[i] = beam.get(i);
    }
    return all;
  }
}
