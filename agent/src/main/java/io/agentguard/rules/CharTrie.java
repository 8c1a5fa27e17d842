package io.agentguard.rules;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * A trie over chars with Aho–Corasick failure links, in flat arrays (sorted transitions,
 * binary-searched): prefix, suffix and substring matching against many literals at once,
 * allocation-free at match time.
 */
final class CharTrie {
    private char[][] labels;
    private int[][] next;
    private boolean[] terminal;   // a literal ends here
    private boolean[] output;     // a literal ends here or along the failure chain
    private int[] fail;

    private CharTrie() {
    }

    static CharTrie of(List<String> literals, boolean reversed, boolean withFailureLinks) {
        List<TreeMap<Character, Integer>> build = new ArrayList<>();
        List<Boolean> ends = new ArrayList<>();
        build.add(new TreeMap<>());
        ends.add(false);
        for (String literal : literals) {
            int node = 0;
            for (int i = 0; i < literal.length(); i++) {
                char c = literal.charAt(reversed ? literal.length() - 1 - i : i);
                Integer child = build.get(node).get(c);
                if (child == null) {
                    child = build.size();
                    build.get(node).put(c, child);
                    build.add(new TreeMap<>());
                    ends.add(false);
                }
                node = child;
            }
            ends.set(node, true);
        }
        CharTrie t = new CharTrie();
        int n = build.size();
        t.labels = new char[n][];
        t.next = new int[n][];
        t.terminal = new boolean[n];
        for (int i = 0; i < n; i++) {
            var m = build.get(i);
            t.labels[i] = new char[m.size()];
            t.next[i] = new int[m.size()];
            int k = 0;
            for (var e : m.entrySet()) {
                t.labels[i][k] = e.getKey();
                t.next[i][k++] = e.getValue();
            }
            t.terminal[i] = ends.get(i);
        }
        t.output = t.terminal.clone();
        t.fail = new int[n];
        if (withFailureLinks) {
            int[] queue = new int[n];
            int head = 0;
            int tail = 0;
            for (int child : t.next[0]) {
                queue[tail++] = child;
            }
            while (head < tail) {
                int node = queue[head++];
                for (int k = 0; k < t.labels[node].length; k++) {
                    char c = t.labels[node][k];
                    int child = t.next[node][k];
                    int f = t.fail[node];
                    int target;
                    while ((target = t.step(f, c)) < 0 && f != 0) {
                        f = t.fail[f];
                    }
                    t.fail[child] = target >= 0 && target != child ? target : 0;
                    t.output[child] |= t.output[t.fail[child]];
                    queue[tail++] = child;
                }
            }
        }
        return t;
    }

    private int step(int node, char c) {
        int k = Arrays.binarySearch(labels[node], c);
        return k >= 0 ? next[node][k] : -1;
    }

    /** Some literal is a prefix of s. */
    boolean matchesPrefix(String s) {
        int node = 0;
        if (terminal[0]) {
            return true;
        }
        for (int i = 0; i < s.length(); i++) {
            node = step(node, s.charAt(i));
            if (node < 0) {
                return false;
            }
            if (terminal[node]) {
                return true;
            }
        }
        return false;
    }

    /** Some literal is a suffix of s (trie built reversed). */
    boolean matchesSuffix(String s) {
        int node = 0;
        if (terminal[0]) {
            return true;
        }
        for (int i = s.length() - 1; i >= 0; i--) {
            node = step(node, s.charAt(i));
            if (node < 0) {
                return false;
            }
            if (terminal[node]) {
                return true;
            }
        }
        return false;
    }

    /** Some literal occurs in s (Aho–Corasick; built with failure links). */
    boolean matchesSubstring(String s) {
        if (output[0]) {
            return true;
        }
        int node = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int target;
            while ((target = step(node, c)) < 0 && node != 0) {
                node = fail[node];
            }
            node = Math.max(target, 0);
            if (output[node]) {
                return true;
            }
        }
        return false;
    }
}
