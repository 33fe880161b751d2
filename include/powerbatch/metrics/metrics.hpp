// The metrics layer in one include: the recorder (a batcher Observer), its snapshot, and every exposition format
// (Prometheus text, JSON, the Markdown and HTML power-efficiency reports).
#pragma once

#include <powerbatch/metrics/histogram.hpp>
#include <powerbatch/metrics/html_report.hpp>
#include <powerbatch/metrics/json.hpp>
#include <powerbatch/metrics/markdown_report.hpp>
#include <powerbatch/metrics/prometheus.hpp>
#include <powerbatch/metrics/recorder.hpp>
#include <powerbatch/metrics/result.hpp>
#include <powerbatch/metrics/snapshot.hpp>
