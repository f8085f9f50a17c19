package dev.nann.jobs;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.description.BlockElement;
import org.apache.flink.configuration.description.TextElement;

/**
 * One setting as declared in an options class ({@link ServingOptions}, {@link IndexSyncOptions}):
 * the option, its value type and whether it must be given. Both the settings parser and the
 * generated configuration reference read the declarations through here, so they cannot disagree.
 *
 * @param option the Flink option (key, default, description)
 * @param type the value type (String, Integer, Boolean, Double; Map for a prefix option such as
 *     {@code kafka.properties}, given as one key per entry: {@code kafka.properties.<name>=value})
 * @param required no default: the job refuses to start without it
 */
public record DeclaredOption(ConfigOption<?> option, Class<?> type, boolean required) {
  /** Every option an options class declares as a public static final field, by key. */
  public static List<DeclaredOption> of(Class<?> holder, List<ConfigOption<?>> required) {
    List<DeclaredOption> out = new ArrayList<>();
    for (Field f : holder.getDeclaredFields()) {
      int mod = f.getModifiers();
      if (!Modifier.isPublic(mod) || !Modifier.isStatic(mod) || f.getType() != ConfigOption.class) {
        continue;
      }
      try {
        ConfigOption<?> o = (ConfigOption<?>) f.get(null);
        Type arg = ((ParameterizedType) f.getGenericType()).getActualTypeArguments()[0];
        Class<?> type = (Class<?>) (arg instanceof ParameterizedType p ? p.getRawType() : arg);
        out.add(new DeclaredOption(o, type, required.contains(o)));
      } catch (IllegalAccessException e) {
        throw new IllegalStateException(e);
      }
    }
    out.sort(Comparator.comparing(DeclaredOption::key));
    return List.copyOf(out);
  }

  public String key() {
    return option.key();
  }

  /** A prefix option: its entries are given as {@code <key>.<name>=value}, each a string. */
  public boolean prefix() {
    return type == java.util.Map.class;
  }

  /** The key as users write it: {@code kafka.properties.<name>} for a prefix option. */
  public String docKey() {
    return prefix() ? key() + ".<name>" : key();
  }

  /** The default as a properties file would spell it, or null when there is none. */
  public String defaultText() {
    return option.hasDefaultValue() ? String.valueOf(option.defaultValue()) : null;
  }

  /** The description as plain text. */
  public String description() {
    StringBuilder b = new StringBuilder();
    for (BlockElement e : option.description().getBlocks()) {
      if (e instanceof TextElement t) {
        b.append(t.getFormat());
      }
    }
    return b.toString();
  }
}
