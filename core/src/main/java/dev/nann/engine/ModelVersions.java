package dev.nann.engine;

import java.util.Comparator;

/**
 * The order model versions move forward in: strings compared piecewise, runs of digits as numbers
 * ({@code m-9 < m-10 < m-10.1}, {@code 2026-11-25T08 < 2026-11-25T09}), everything else
 * character by character. Model versions are names chosen by whoever trains the model, so a
 * numeric-aware order is the one that matches how people number them.
 */
public final class ModelVersions {
  /** Natural order of version strings. */
  public static final Comparator<String> ORDER = ModelVersions::compare;

  private ModelVersions() {
  }

  /** Negative, zero or positive as {@code a} is older than, equal to or newer than {@code b}. */
  public static int compare(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      char ca = a.charAt(i);
      char cb = b.charAt(j);
      if (Character.isDigit(ca) && Character.isDigit(cb)) {
        int si = i;
        int sj = j;
        while (i < a.length() && a.charAt(i) == '0') {
          i++;
        }
        while (j < b.length() && b.charAt(j) == '0') {
          j++;
        }
        int ei = i;
        int ej = j;
        while (ei < a.length() && Character.isDigit(a.charAt(ei))) {
          ei++;
        }
        while (ej < b.length() && Character.isDigit(b.charAt(ej))) {
          ej++;
        }
        int byLength = Integer.compare(ei - i, ej - j);   // more significant digits = larger number
        if (byLength != 0) {
          return byLength;
        }
        int byDigits = a.substring(i, ei).compareTo(b.substring(j, ej));
        if (byDigits != 0) {
          return byDigits;
        }
        int byZeros = Integer.compare(ei - si, ej - sj);   // "007" after "7", so distinct strings never tie
        if (byZeros != 0) {
          return byZeros;
        }
        i = ei;
        j = ej;
      } else {
        if (ca != cb) {
          return Character.compare(ca, cb);
        }
        i++;
        j++;
      }
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }
}
