package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Load once, hold while leased or pinned, close when the last holder lets go. */
class SharedRegistryTest {
  static final class Resource implements AutoCloseable {
    final long version;
    boolean closed;

    Resource(long version) {
      this.version = version;
    }

    @Override
    public void close() {
      closed = true;
    }
  }

  private final AtomicInteger loads = new AtomicInteger();
  private final List<Resource> made = new ArrayList<>();
  private final SharedRegistry<Long, Resource> registry = new SharedRegistry<>("test", v -> {
    loads.incrementAndGet();
    if (v < 0) {
      throw new IllegalArgumentException("version " + v + " is corrupt");
    }
    Resource r = new Resource(v);
    made.add(r);
    return r;
  });

  @Test
  void concurrentLeasesShareOneLoadAndTheLastCloses() {
    SharedRegistry<Long, Resource>.Lease a = registry.acquire(1L);
    SharedRegistry<Long, Resource>.Lease b = registry.acquire(1L);
    assertSame(a.value(), b.value());
    assertEquals(1, loads.get());
    a.close();
    assertFalse(b.value().closed);
    b.close();
    assertTrue(made.get(0).closed, "closed when the last lease closed");
    assertEquals(0, registry.loaded());
  }

  @Test
  void pinnedVersionStaysLoadedAndThePreviousClosesAfterItsLastLease() {
    registry.pin(1L);
    try (SharedRegistry<Long, Resource>.Lease l = registry.acquire(1L)) {
      assertEquals(1, loads.get());
    }
    assertFalse(made.get(0).closed, "pinned: kept between requests");
    SharedRegistry<Long, Resource>.Lease inFlight = registry.acquire(1L);
    registry.pin(2L);
    assertFalse(made.get(0).closed, "a request in flight finishes on its version");
    inFlight.close();
    assertTrue(made.get(0).closed);
    assertEquals(2L, registry.pinnedKey());
    registry.unpin();
    assertTrue(made.get(1).closed);
  }

  @Test
  void aFailedLoadLeavesNothingBehind() {
    assertThrows(IllegalArgumentException.class, () -> registry.acquire(-1L));
    assertEquals(0, registry.loaded());
    try (SharedRegistry<Long, Resource>.Lease l = registry.acquire(3L)) {
      assertEquals(3L, l.value().version);
    }
  }
}
