package dev.nann.schemas;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;

/**
 * A record of any schema with every field set to a seeded value (unions take their last branch, so
 * optional fields hold a value rather than null; arrays hold two entries and maps one), for tests that
 * write under one schema version and read under another.
 */
final class SampleRecords {
  private SampleRecords() {}

  static GenericData.Record of(Schema schema, long seed) {
    return (GenericData.Record) value(schema, new SplittableRandom(seed));
  }

  private static Object value(Schema s, SplittableRandom r) {
    return switch (s.getType()) {
      case RECORD -> {
        GenericData.Record rec = new GenericData.Record(s);
        for (Schema.Field f : s.getFields()) {
          rec.put(f.pos(), value(f.schema(), r));
        }
        yield rec;
      }
      case UNION -> value(s.getTypes().get(s.getTypes().size() - 1), r);
      case ARRAY -> {
        List<Object> list = new ArrayList<>();
        list.add(value(s.getElementType(), r));
        list.add(value(s.getElementType(), r));
        yield list;
      }
      case MAP -> {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("k" + r.nextInt(100), value(s.getValueType(), r));   // one entry: a read-back map's order is its own
        yield map;
      }
      case ENUM -> new GenericData.EnumSymbol(s, s.getEnumSymbols().get(r.nextInt(s.getEnumSymbols().size())));
      case FIXED -> new GenericData.Fixed(s, bytes(s.getFixedSize(), r));
      case STRING -> "s" + r.nextInt(1_000_000);
      case BYTES -> ByteBuffer.wrap(bytes(4, r));
      case INT -> r.nextInt(1_000_000);
      case LONG -> r.nextLong(1_000_000_000_000L);
      case FLOAT -> (float) r.nextDouble();
      case DOUBLE -> r.nextDouble();
      case BOOLEAN -> r.nextBoolean();
      case NULL -> null;
    };
  }

  private static byte[] bytes(int n, SplittableRandom r) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) r.nextInt(256);
    }
    return b;
  }
}
