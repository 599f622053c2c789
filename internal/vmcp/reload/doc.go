// Package reload watches the aggregator's config file and hands every new valid version to a
// callback. It polls the file's content hash rather than using file-system events, because a
// mounted ConfigMap changes by an atomic symlink swap that event watchers easily miss; polling
// a few kilobytes every couple of seconds costs nothing. An invalid new version is reported once
// and ignored: the aggregator keeps running the last valid config.
package reload
