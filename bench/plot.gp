# plot.gp - draws the benchmark's PNGs from the .dat files shmq_bench writes.
# Usage: gnuplot -e "dir='bench/results'" bench/plot.gp
# Each .dat file holds one block per transport (quoted title on its first line).
if (!exists("dir")) dir = "bench/results"

set terminal pngcairo size 1100,650 font ",10" noenhanced
set grid
set key outside right top
set logscale y
set ylabel "latency (us)"

# Percentile plot: x is 1/(1-p), so 50% sits at 2, 99% at 100, 99.9% at 1000.
set logscale x
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000, "99.9999%%" 1000000)
set xlabel "percentile"

# Number of data blocks in a file: one quoted title line starts each.
blocks(file) = int(system("grep -c '^\"' ".file))
percentile_plot(file, out, title) = sprintf("set output '%s'; set title '%s'; plot for [i=0:%d] '%s' index i using 1:2 with linespoints pt 7 ps 0.5 title columnheader(1)", out, title, blocks(file) - 1, file)

file = dir.'/pingpong_pct.dat'
if (system("test -s ".file." && echo y") eq "y") {
    eval percentile_plot(file, dir.'/pingpong_latency.png', "Ping-pong round trip, 64 B, between two processes")
}
file = dir.'/fixed_rate_pct.dat'
if (system("test -s ".file." && echo y") eq "y") {
    eval percentile_plot(file, dir.'/fixed_rate_latency.png', "One-way latency at a fixed rate (open loop, from intended send time), 64 B")
}

# Size curve: messages/s and MB/s (copying transports only: shmq_spin_zc does not
# move the payload, so its MB/s would be nominal) and round-trip median.
set xtics ("8 B" 8, "64 B" 64, "256 B" 256, "1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536, "256 KiB" 262144, "1 MiB" 1048576)
set xrange [5:1700000]
set xlabel "payload size"
file = dir.'/size_curve.dat'
if (system("test -s ".file." && echo y") eq "y") {
    n = blocks(file)
    set terminal pngcairo size 1500,600 font ",10" noenhanced
    set output dir.'/size_throughput.png'
    set multiplot layout 1,2 title "One-way throughput vs payload size, 1 producer -> 1 consumer process"
    set title "messages/s"
    set ylabel "msg/s"
    plot for [i=0:n-1] file index i using 1:4 with linespoints pt 7 title columnheader(1)
    set title "bandwidth (data copied in and out)"
    set ylabel "MB/s"
    plot for [i=0:n-1] file index i using 1:2 with linespoints pt 7 title columnheader(1)
    unset multiplot
    set terminal pngcairo size 1100,650 font ",10" noenhanced
    set output dir.'/size_latency.png'
    set title "Ping-pong round trip p50 vs payload size"
    set ylabel "latency (us)"
    plot for [i=0:n-1] file index i using 1:3 with linespoints pt 7 title columnheader(1)
}
