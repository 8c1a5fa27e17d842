# Figures of the benchmark scripts (sourced): every run's value is kept as a sample, and each
# figure is reported as the median of its samples with the spread (min..max).
#   sample FIGURE UNIT BETTER VALUE    appends to $OUT/samples.tsv (BETTER: higher|lower)
#   summarize                          writes $OUT/results.tsv: figure, unit, better, median,
#                                      min, max, runs (what scripts/bench-compare.sh reads)

sample() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$OUT/samples.tsv"
}

summarize() {
    local figure unit better values n
    : > "$OUT/results.tsv"
    cut -f1-3 "$OUT/samples.tsv" | awk '!seen[$0]++' | while IFS=$'\t' read -r figure unit better; do
        values=$(awk -F'\t' -v f="$figure" '$1 == f {print $4}' "$OUT/samples.tsv" | sort -g)
        n=$(echo "$values" | wc -l)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$figure" "$unit" "$better" \
            "$(echo "$values" | sed -n "$(((n + 1) / 2))p")" "$(echo "$values" | head -1)" \
            "$(echo "$values" | tail -1)" "$n" >> "$OUT/results.tsv"
    done
}

# Prints results.tsv as a table.
print_results() {
    awk -F'\t' '{printf "%-58s %14s %14s .. %-14s %-10s (%s runs)\n", $1, $4, $5, $6, $2, $7}' "$OUT/results.tsv"
}
