package cc

// maxFilter is a windowed maximum over a virtual time (rounds or cycles):
// Kathleen Nichols' algorithm, which keeps the best, second-best and
// third-best samples of the window (draft-ietf-ccwg-bbr §5.5.5, the
// [KN_FILTER] it cites). It allocates nothing.
type maxFilter struct {
	s [3]mmSample
}

type mmSample struct{ t, v uint64 }

func (m *maxFilter) reset(t, v uint64) uint64 {
	m.s = [3]mmSample{{t, v}, {t, v}, {t, v}}
	return v
}

// update records v at time t and returns the maximum over the last win
// units of time.
func (m *maxFilter) update(win, t, v uint64) uint64 {
	val := mmSample{t, v}
	if v >= m.s[0].v || t-m.s[2].t > win {
		return m.reset(t, v) // a new maximum, or nothing left in the window
	}
	if v >= m.s[1].v {
		m.s[2], m.s[1] = val, val
	} else if v >= m.s[2].v {
		m.s[2] = val
	}
	// Age the best samples out of the window, keeping sub-window
	// representatives so the maximum decays gracefully.
	dt := t - m.s[0].t
	switch {
	case dt > win:
		m.s[0], m.s[1], m.s[2] = m.s[1], m.s[2], val
		if t-m.s[0].t > win {
			m.s[0], m.s[1], m.s[2] = m.s[1], m.s[2], val
		}
	case m.s[1].t == m.s[0].t && dt > win/4:
		m.s[2], m.s[1] = val, val
	case m.s[2].t == m.s[1].t && dt > win/2:
		m.s[2] = val
	}
	return m.s[0].v
}
