# Locality, migrations and contention over time for one trace, from
# vnuma-sim --series (one block per policy, in vnuma-sim's policy order).
# gnuplot -e "data='FILE'; out='PNG'; heading='TEXT'" bench/sim/plot.gp
names = "none static-pack static-spread numad vnuma vnuma-before optimum"
set terminal pngcairo size 1000,960 font ",10"
set output out
set multiplot layout 3,1 title heading
set key outside right
set grid
set xlabel "hours"
set ylabel "memory locality, %"
set yrange [0:105]
plot for [i=0:6] data index i using 1:2 with lines lw 2 lc i+1 title word(names, i+1)
set ylabel "client migrations (cumulative)"
set yrange [0:*]
plot for [i=1:6] data index i using 1:3 with lines lw 2 lc i+1 title word(names, i+1)
set ylabel "CPU contention, % of demand"
plot for [i=0:6] data index i using 1:4 with lines lw 2 lc i+1 title word(names, i+1)
unset multiplot
