package dev.nann.indexsync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catch-up guard on a store holding 1,000 items, with a clock of its own: a start without state
 * builds once the whole catalogue is read again, however slowly it comes, and not before; a quiet
 * topic, or a catalogue that stopped growing, lets it go ahead with what it has.
 */
class CatchUpGuardTest {
  private static final long INTERVAL_MS = 1_000;
  private static final int STORED = 1_000;

  @TempDir
  Path dir;

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private CatchUpGuard guard;

  @BeforeEach
  void storeWithAVersion() {
    Random rnd = new Random(3);
    int dim = 4;
    float[] emb = new float[STORED * dim];
    long[] ids = new long[STORED];
    for (int i = 0; i < STORED; i++) {
      ids[i] = i + 1;
      for (int j = 0; j < dim; j++) {
        emb[i * dim + j] = (float) rnd.nextGaussian();
      }
    }
    new SnapshotPublisher(dir, 8, 32, 1).publish(1, emb, dim, ids, 1, x -> { });
    guard = new CatchUpGuard(dir, 1, INTERVAL_MS, now::get);
    assertEquals(STORED, guard.storedItems(0));
  }

  private void advance(double intervals) {
    now.addAndGet((long) (intervals * INTERVAL_MS * 1_000_000));
  }

  @Test
  void aCatalogueReadSlowlyIsWaitedForUntilItIsWhole() {
    long read = 0;
    for (int step = 0; step < 60; step++) {   // six times the give-up, while items keep coming
      read += 15;
      guard.active();
      advance(0.5);
      assertTrue(guard.holdsBack(0, null, read), "held at " + read + " items read");
    }
    // 95% is not caught up: the first build would lack the rest, which no fresh set holds
    assertTrue(guard.holdsBack(0, null, 950L));
    assertFalse(guard.holdsBack(0, null, (long) STORED), "caught up");
  }

  @Test
  void aQuietTopicLetsTheBuildGoAheadWithWhatWasRead() {
    guard.active();
    assertTrue(guard.holdsBack(0, null, 700L));
    advance(1.5);
    assertFalse(guard.holdsBack(0, null, 700L), "nothing read for an interval: items were deleted meanwhile");
  }

  @Test
  void aCatalogueThatStoppedGrowingUnderATrickleOfChangesGoesAheadAfterTheGiveUp() {
    for (int step = 0; step < 19; step++) {   // a change every half interval, never more than 700 items
      guard.active();
      advance(0.5);
      assertTrue(guard.holdsBack(0, null, 700L), "step " + step);
    }
    guard.active();
    advance(1.5);
    guard.active();
    assertFalse(guard.holdsBack(0, null, 700L), "ten intervals without growth");
  }

  @Test
  void aTopicThatNeverAnswersHoldsForTheGiveUpOnly() {
    advance(9);
    assertTrue(guard.holdsBack(0, null, null));
    advance(2);
    assertFalse(guard.holdsBack(0, null, null));
  }

  @Test
  void aKeyWithAVersionOrAnEmptyStoreIsNeverHeld() {
    assertFalse(guard.holdsBack(0, 3L, 0L));
    assertFalse(new CatchUpGuard(dir.resolve("empty"), 1, INTERVAL_MS, now::get).holdsBack(0, null, 0L));
  }
}
