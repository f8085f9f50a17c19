package dev.nann.operators;

import dev.nann.engine.ChangeOutcome;
import dev.nann.engine.RetrievalEngine;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.codec.AvroCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.apache.flink.api.common.state.BroadcastState;

/**
 * The checkpointed copy of the engine's fresh set ({@link UserStateFunction#CHANGES}): exactly the
 * changes the set holds, so that a restart rebuilds it, and nothing the live snapshot already says
 * (no new snapshot would ever clear such an entry). Counts its entries for the
 * {@code catalogChangesKept} gauge. Values are a change's update time (8 bytes, big-endian), then its
 * Avro record.
 */
final class ChangeLog {
  private static final AvroCodec<ItemEmbedding> CODEC = AvroCodec.of(ItemEmbedding.class);

  /** Written by the task thread only; read by the metrics thread. */
  private volatile int size;

  /** Entries now (the gauge). */
  int size() {
    return size;
  }

  /**
   * After a restore: hands every change of the restored log to {@code engine}, whose fresh set a
   * restart emptied, and counts them.
   */
  void refill(RetrievalEngine engine, Iterable<Map.Entry<Long, byte[]>> restored) throws IOException {
    long now = System.currentTimeMillis();
    int kept = 0;
    for (Map.Entry<Long, byte[]> e : restored) {
      kept++;
      ItemEmbedding item = decode(e.getValue());
      // stamps from state written before serving stamped changes itself may be a producer's clock
      // ahead of ours: such a change must not outrank every change after the restart
      item.setUpdatedAtMillis(Math.min(item.getUpdatedAtMillis(), now));
      engine.applyChange(item);
    }
    size = kept;
  }

  /**
   * Keeps what applying {@code item} left in the fresh set: the change when the set holds it, nothing
   * when the live snapshot says it, the held change when {@code item} was stale.
   *
   * @param stillHeld for a refused change: whether the set still holds an older change of the item
   *     (not looked at otherwise)
   */
  void record(BroadcastState<Long, byte[]> changes, ItemEmbedding item, ChangeOutcome outcome, boolean stillHeld)
      throws Exception {
    long id = item.getItemId();
    switch (outcome) {
      case HELD -> {
        if (!changes.contains(id)) {
          size++;
        }
        changes.put(id, encode(item));
      }
      case IN_SNAPSHOT -> drop(changes, id);
      case STALE -> { }
      case REFUSED -> {
        if (!stillHeld) {
          drop(changes, id);   // a full set lets the item's older change go too: a restart must not bring it back
        }
      }
    }
  }

  /** Takes the item's change out (a live snapshot holds it now). */
  void drop(BroadcastState<Long, byte[]> changes, long id) throws Exception {
    if (changes.contains(id)) {
      size--;
      changes.remove(id);
    }
  }

  static byte[] encode(ItemEmbedding item) {
    byte[] record = CODEC.encode(item);
    return ByteBuffer.allocate(Long.BYTES + record.length).putLong(item.getUpdatedAtMillis()).put(record).array();
  }

  static ItemEmbedding decode(byte[] bytes) throws IOException {
    return CODEC.decode(Arrays.copyOfRange(bytes, Long.BYTES, bytes.length));
  }
}
