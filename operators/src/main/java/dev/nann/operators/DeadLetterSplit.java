package dev.nann.operators;

import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.internal.CatalogInput;
import dev.nann.schemas.internal.DescriptorUpdate;
import dev.nann.schemas.internal.ServingInput;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Sends decoded inputs on and their dead letters to {@link #DEAD} (the dead-letter topic), counting
 * them in the {@code nann.deadLetters} metric.
 *
 * @param <T> an internal input record with a {@code deadLetter} field ({@link ServingInput},
 *     {@link DescriptorUpdate}, {@link CatalogInput})
 */
public final class DeadLetterSplit<T extends SpecificRecordBase> extends ProcessFunction<T, T>
    implements ResultTypeQueryable<T> {
  public static final OutputTag<DeadLetter> DEAD = new OutputTag<>("dead-letters", new AvroTypeInfo<>(DeadLetter.class));

  private final Class<T> type;
  private transient Counter deadLetters;
  private transient int deadLetterField;

  private DeadLetterSplit(Class<T> type) {
    this.type = type;
  }

  public static DeadLetterSplit<ServingInput> inputs() {
    return new DeadLetterSplit<>(ServingInput.class);
  }

  public static DeadLetterSplit<DescriptorUpdate> descriptors() {
    return new DeadLetterSplit<>(DescriptorUpdate.class);
  }

  public static DeadLetterSplit<CatalogInput> catalog() {
    return new DeadLetterSplit<>(CatalogInput.class);
  }

  @Override
  public void open(OpenContext ctx) {
    deadLetters = getRuntimeContext().getMetricGroup().addGroup("nann").counter("deadLetters");
    deadLetterField = org.apache.avro.specific.SpecificData.get().getSchema(type).getField("deadLetter").pos();
  }

  @Override
  public void processElement(T value, Context ctx, Collector<T> out) {
    DeadLetter d = (DeadLetter) value.get(deadLetterField);
    if (d != null) {
      deadLetters.inc();
      ctx.output(DEAD, d);
    } else {
      out.collect(value);
    }
  }

  @Override
  @SuppressWarnings({"unchecked", "rawtypes"})
  public TypeInformation<T> getProducedType() {
    return new AvroTypeInfo(type);
  }
}
