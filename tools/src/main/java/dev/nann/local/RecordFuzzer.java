package dev.nann.local;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.ModelDescriptor;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.UserEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Hostile records for every input topic, made from valid ones: byte-level mutations (bit flips,
 * truncation, a length or count near 2^31 spliced in, a wrong schema fingerprint, random bodies) and
 * records that are valid Avro with hostile contents (NaN and infinite embeddings, huge arrays and
 * maps, empty ids, negative and huge k, absurd versions, paths outside the store). What the fuzzing
 * benchmark and its CI test send at a running job.
 */
public final class RecordFuzzer {
  /** How a record was made hostile. */
  public enum Kind {
    BIT_FLIP, TRUNCATE, LENGTH_BOMB, WRONG_FINGERPRINT, RANDOM_BODY, HOSTILE_VALUES
  }

  /** The input topics, by what they carry. */
  public enum Input {
    REQUESTS, USER_EVENTS, ITEM_EMBEDDINGS, INDEX_UPDATES, MODEL_UPDATES
  }

  private static final int HEADER = 10;
  private final SplittableRandom rnd;
  private final int dim;
  private final AvroCodec<RetrievalRequest> requests = AvroCodec.of(RetrievalRequest.class);
  private final AvroCodec<UserEvent> events = AvroCodec.of(UserEvent.class);
  private final AvroCodec<ItemEmbedding> items = AvroCodec.of(ItemEmbedding.class);
  private final AvroCodec<IndexDescriptor> indexes = AvroCodec.of(IndexDescriptor.class);
  private final AvroCodec<ModelDescriptor> models = AvroCodec.of(ModelDescriptor.class);
  private int n;

  /**
   * @param dim item embedding dimension of the job under test
   */
  public RecordFuzzer(long seed, int dim) {
    this.rnd = new SplittableRandom(seed);
    this.dim = dim;
  }

  /** One hostile record for {@code input}, made the {@code kind} way. */
  public byte[] next(Input input, Kind kind) {
    n++;
    if (kind == Kind.HOSTILE_VALUES) {
      return hostile(input);
    }
    byte[] valid = valid(input);
    byte[] m = valid.clone();
    switch (kind) {
      case BIT_FLIP -> {
        for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
          m[HEADER + rnd.nextInt(m.length - HEADER)] ^= (byte) (1 << rnd.nextInt(8));
        }
      }
      case TRUNCATE -> m = Arrays.copyOf(m, HEADER + rnd.nextInt(m.length - HEADER));
      case LENGTH_BOMB -> {
        // a zig-zag varint near +-2^31 where a length, count or number was
        byte[] bomb = rnd.nextBoolean() ? new byte[] {(byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f}
            : new byte[] {(byte) 0xfd, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
        if (rnd.nextInt(4) == 0) {
          // the 15-byte record: the header and a length near 2^31, nothing else
          byte[] out = Arrays.copyOf(m, HEADER + bomb.length);
          System.arraycopy(bomb, 0, out, HEADER, bomb.length);
          return out;
        }
        int at = HEADER + rnd.nextInt(m.length - HEADER);
        byte[] out = new byte[m.length + bomb.length];
        System.arraycopy(m, 0, out, 0, at);
        System.arraycopy(bomb, 0, out, at, bomb.length);
        System.arraycopy(m, at, out, at + bomb.length, m.length - at);
        m = out;
      }
      case WRONG_FINGERPRINT -> m[2 + rnd.nextInt(8)] ^= (byte) (1 + rnd.nextInt(255));
      case RANDOM_BODY -> {
        for (int i = HEADER; i < m.length; i++) {
          m[i] = (byte) rnd.nextInt(256);
        }
      }
      default -> throw new IllegalStateException(kind.name());
    }
    return m;
  }

  private byte[] valid(Input input) {
    return switch (input) {
      case REQUESTS -> requests.encode(RetrievalRequest.newBuilder().setRequestId("fuzz-" + n).setUserId(rnd.nextInt(100))
          .setK(20).setMode("nann").setExcludeItems(List.of(1L, 2L)).setAttributeFilter(Map.of())
          .setCreatedAtMillis(System.currentTimeMillis()).build());
      case USER_EVENTS -> events.encode(UserEvent.newBuilder().setUserId(rnd.nextInt(100)).setItemId(rnd.nextInt(1000))
          .setTimestampMillis(System.currentTimeMillis()).setEventType("click").build());
      case ITEM_EMBEDDINGS -> items.encode(ItemEmbedding.newBuilder().setItemId(50_000_000L + n)
          .setEmbedding(floats(dim, 0.1f)).setUpdatedAtMillis(System.currentTimeMillis()).build());
      case INDEX_UPDATES -> indexes.encode(IndexDescriptor.newBuilder().setVersion(1).setUri("index-v1.nann")
          .setSha256("ab".repeat(32)).setItems(10).setDim(dim).setCreatedAtMillis(1).build());
      case MODEL_UPDATES -> models.encode(ModelDescriptor.newBuilder().setVersion("fuzz-" + n).setUri("fuzz-model")
          .setSha256("ab".repeat(32)).setItemDim(dim).build());
    };
  }

  /** Valid Avro, hostile contents. */
  private byte[] hostile(Input input) {
    int pick = rnd.nextInt(4);
    return switch (input) {
      case REQUESTS -> requests.encode(switch (pick) {
        case 0 -> request().setK(rnd.nextBoolean() ? -5 : 1_000_000_000).build();
        case 1 -> request().setRequestId("").build();
        case 2 -> request().setExcludeItems(longs(20_000)).build();      // larger than serving.max-record-bytes
        default -> request().setAttributeFilter(Map.of("", List.of())).setBudget(Integer.MIN_VALUE).build();
      });
      case USER_EVENTS -> events.encode(UserEvent.newBuilder().setUserId(pick == 0 ? Long.MIN_VALUE : rnd.nextLong())
          .setItemId(rnd.nextLong()).setTimestampMillis(pick == 1 ? Long.MAX_VALUE : -1).setEventType("x".repeat(pick * 100))
          .build());
      case ITEM_EMBEDDINGS -> items.encode(ItemEmbedding.newBuilder().setItemId(60_000_000L + n)
          .setEmbedding(switch (pick) {
            case 0 -> floats(dim, Float.NaN);
            case 1 -> floats(dim, Float.POSITIVE_INFINITY);
            case 2 -> floats(dim * 100, 0.5f);
            default -> List.of();
          }).setUpdatedAtMillis(System.currentTimeMillis()).build());
      case INDEX_UPDATES -> indexes.encode(IndexDescriptor.newBuilder().setVersion(pick == 0 ? Long.MAX_VALUE : -1)
          .setUri(pick == 1 ? "../../../etc/passwd" : pick == 2 ? "file:///etc/passwd" : "s3://elsewhere/index.nann")
          .setSha256("ab".repeat(32)).setItems(Integer.MAX_VALUE).setDim(dim).setCreatedAtMillis(1).build());
      case MODEL_UPDATES -> models.encode(ModelDescriptor.newBuilder().setVersion(pick == 0 ? "" : "zz-" + n)
          .setUri(pick == 1 ? "/etc" : pick == 2 ? "../../.." : "file:///root").setSha256("x").setItemDim(dim)
          .setIndexVersion(pick == 3 ? Long.MAX_VALUE : null).build());
    };
  }

  private RetrievalRequest.Builder request() {
    return RetrievalRequest.newBuilder().setRequestId("fuzz-" + n).setUserId(rnd.nextInt(100)).setK(20).setMode("nann")
        .setCreatedAtMillis(System.currentTimeMillis());
  }

  private static List<Float> floats(int count, float value) {
    List<Float> v = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      v.add(value);
    }
    return v;
  }

  private List<Long> longs(int count) {
    List<Long> v = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      v.add(rnd.nextLong());
    }
    return v;
  }
}
